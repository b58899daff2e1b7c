"""Figures for the `keywords` model: `python -m training.evaluate_keywords [--n 500 --seed 777]`.

Per padding side: accuracy, and how often the token heatmap (Grad-CAM, score "logit",
relu on, automatic layer; resized to the tokens with linear interp1d, padding
dropped) peaks exactly on the keyword.
"""

import argparse
from pathlib import Path

import keras
import numpy as np
from scipy.interpolate import interp1d

from app.engine.runtime.gradcam import GradCam
from training.keywords_data import PAD_ID, load_vocabulary, make_samples

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "keywords"
PADDING_SIDES = ("post", "pre")


def token_heatmap(heatmap: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Resize a (T,) map to the ids with linear interp1d, then drop the padding.

    Returns (positions in the padded sequence, weights) of the non-padding tokens.
    """
    if len(heatmap) == 1:
        resized = np.repeat(heatmap, len(ids))
    else:
        resize = interp1d(np.linspace(0, 1, len(heatmap)), heatmap, kind="linear")
        resized = resize(np.linspace(0, 1, len(ids)))
    positions = np.flatnonzero(ids != PAD_ID)
    return positions, resized[positions]


def peak_position(heatmap: np.ndarray, ids: np.ndarray) -> int:
    """Padded-sequence position of the token the map points at most."""
    positions, weights = token_heatmap(heatmap, ids)
    return int(positions[np.argmax(weights)])


def side_figures(
    gradcam: GradCam, ids: np.ndarray, labels: np.ndarray, keyword_positions: np.ndarray
) -> dict:
    """Accuracy and keyword-hit rate of the top prediction's map (score "logit", relu on)."""
    result = gradcam.explain(ids, relu=True, score="logit")
    maps = zip(result.heatmaps, ids[result.sample], strict=True)
    peaks = np.array([peak_position(heatmap, row) for heatmap, row in maps])
    return {
        "n": len(ids),
        "accuracy": float(np.mean(result.predictions.argmax(axis=1) == labels)),
        "keyword_hit": float(np.mean(peaks == keyword_positions[result.sample])),
    }


def evaluate(model_dir: Path = MODEL_DIR, n: int = 500, seed: int = 777) -> dict:
    """{"layer": name, "post": {...}, "pre": {...}} with n, accuracy and keyword_hit per side."""
    model = keras.saving.load_model(model_dir / "model.keras", compile=False, safe_mode=True)
    vocab, keywords = load_vocabulary(model_dir)
    gradcam = GradCam(model)  # layer=None: the engine's automatic (ELI5 text rule) choice
    figures: dict = {"layer": gradcam.layer.name}
    for offset, padding in enumerate(PADDING_SIDES):
        ids, labels, keyword_positions, _ = make_samples(n, seed + offset, padding, vocab, keywords)
        figures[padding] = side_figures(gradcam, ids, labels, keyword_positions)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--seed", type=int, default=777)
    args = parser.parse_args()
    figures = evaluate(args.model_dir, args.n, args.seed)
    print(f"layer: {figures['layer']}")
    for padding in PADDING_SIDES:
        side = figures[padding]
        print(
            f"padding={padding}: n={side['n']} accuracy={side['accuracy']:.2%} "
            f"keyword_hit={side['keyword_hit']:.2%}"
        )


if __name__ == "__main__":
    main()
