"""Figures for the `shapes` model: `python -m training.evaluate_shapes [--n 1000 --seed 12345]`.

All maps come from the project's engine (`GradCam`, default layer of the card, score
"logit", relu on), are upsampled to 64x64 with `tf.image.resize(method="bilinear")`
(half-pixel centres, no antialias) and point at their argmax pixel.

- accuracy: top prediction on one-shape images.
- pointing: the true-class map's argmax lies inside the shape's box grown by 3 px.
- two_object: on two-shape images, each shape's class map points inside that shape's
  (grown) box; counted per map, two maps per image.
- zero_maps: fraction of all maps (both sets) that are all zero; such a map points
  nowhere and counts as a miss.
"""

import argparse
import tomllib
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from app.engine.runtime.gradcam import GradCam
from training.shapes_data import IMAGE_SIZE, make_shapes, make_two_objects

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "shapes"
BOX_MARGIN = 3  # pixels the box grows by on each side for the pointing game
BATCH_SIZE = 256


def card_layer(model_path: Path) -> str | None:
    """The `default_layer` of the card next to the model file, if there is one."""
    card_path = model_path.with_name("model.toml")
    return tomllib.loads(card_path.read_text()).get("default_layer") if card_path.exists() else None


def load_gradcam(model_path: Path) -> GradCam:
    """The engine on the saved model and its card's layer (else the engine's own choice)."""
    model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
    return GradCam(model, card_layer(model_path))


def explain(
    gradcam: GradCam, images: np.ndarray, targets: list[list[int]]
) -> tuple[np.ndarray, np.ndarray]:
    """(predictions (B, 4), heatmaps (N, h, w)) for `targets` per image, in batches."""
    predictions, heatmaps = [], []
    for start in range(0, len(images), BATCH_SIZE):
        batch = images[start : start + BATCH_SIZE].astype(np.float32) / 255
        result = gradcam.explain(batch, targets[start : start + BATCH_SIZE], score="logit")
        predictions.append(result.predictions)
        heatmaps.append(result.heatmaps)
    return np.concatenate(predictions), np.concatenate(heatmaps)


def peak_points(heatmaps: np.ndarray) -> np.ndarray:
    """(N, 2) int (x, y) of each map's maximum after bilinear upsampling to 64x64."""
    resized = tf.image.resize(heatmaps[..., None], (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
    flat = np.argmax(resized.numpy().reshape(len(heatmaps), -1), axis=1)
    rows, cols = np.unravel_index(flat, (IMAGE_SIZE, IMAGE_SIZE))
    return np.stack([cols, rows], axis=1)


def hits(heatmaps: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: each map's peak lies in its box (x0, y0, x1, y1; end-exclusive) + margin."""
    x, y = peak_points(heatmaps).T
    inside_x = (boxes[:, 0] - BOX_MARGIN <= x) & (x < boxes[:, 2] + BOX_MARGIN)
    inside_y = (boxes[:, 1] - BOX_MARGIN <= y) & (y < boxes[:, 3] + BOX_MARGIN)
    return inside_x & inside_y & ~zero_maps(heatmaps)


def zero_maps(heatmaps: np.ndarray) -> np.ndarray:
    return ~heatmaps.reshape(len(heatmaps), -1).any(axis=1)


def evaluate(
    model_path: Path = MODEL_DIR / "model.keras",
    n_single: int = 1000,
    n_two: int = 1000,
    seed: int = 12345,
) -> dict:
    """{"accuracy", "pointing", "two_object", "zero_maps", "n_single", "n_two", "layer"}.

    One-shape images use `seed`, two-shape images `seed + 1`.
    """
    gradcam = load_gradcam(Path(model_path))
    images, labels, boxes = make_shapes(n_single, seed)
    predictions, single_maps = explain(gradcam, images, [[int(label)] for label in labels])
    pairs, pair_labels, pair_boxes = make_two_objects(n_two, seed + 1)
    _, pair_maps = explain(gradcam, pairs, pair_labels.tolist())
    # Maps come out per image in target order: (image 0, shape 0), (image 0, shape 1), ...
    return {
        "layer": gradcam.layer.name,
        "n_single": n_single,
        "n_two": n_two,
        "accuracy": float(np.mean(predictions.argmax(axis=1) == labels)),
        "pointing": float(np.mean(hits(single_maps, boxes))),
        "two_object": float(np.mean(hits(pair_maps, pair_boxes.reshape(-1, 4)))),
        "zero_maps": float(np.mean(zero_maps(np.concatenate([single_maps, pair_maps])))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", type=Path, default=MODEL_DIR / "model.keras")
    parser.add_argument("--n", type=int, default=1000, help="images per set (single, two)")
    parser.add_argument("--seed", type=int, default=12345)
    args = parser.parse_args()
    figures = evaluate(args.model, args.n, args.n, args.seed)
    print(f"model: {args.model}  layer: {figures['layer']}  seed: {args.seed}")
    print(f"accuracy   {figures['accuracy']:.2%}  ({figures['n_single']} one-shape images)")
    print(f"pointing   {figures['pointing']:.2%}  (true class, box + {BOX_MARGIN} px)")
    print(f"two_object {figures['two_object']:.2%}  ({2 * figures['n_two']} maps)")
    print(f"zero_maps  {figures['zero_maps']:.2%}")


if __name__ == "__main__":
    main()
