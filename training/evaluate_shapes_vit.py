"""Figures for `shapes_vit` beside `shapes`: `python -m training.evaluate_shapes_vit`.

Accuracy on held-out one-shape images, and the pointing game (the true class's map
peaks inside the shape's box + 3 px, after bilinear upsampling to 64x64; as
`training.evaluate_shapes`) for every method, at each model's default layer (plus any
`--layer` of `shapes_vit`), score "logit", relu on; Score-CAM and Ablation-CAM perturb
`--max-channels` channels.
"""

import argparse
from pathlib import Path

import keras
import numpy as np

from app.engine.methods import model_methods
from app.engine.runtime.gradcam import GradCam
from training.evaluate_shapes import hits
from training.shapes_data import make_shapes

MODELS = Path(__file__).resolve().parent.parent / "models"
BATCH_SIZE = 50


def load(path: Path) -> keras.Model:
    return keras.saving.load_model(path, compile=False, safe_mode=True)


def accuracy(model: keras.Model, images: np.ndarray, labels: np.ndarray) -> float:
    scores = model.predict(images.astype(np.float32) / 255, verbose=0, batch_size=BATCH_SIZE)
    return float(np.mean(scores.argmax(axis=1) == labels))


def pointing(
    cam: GradCam, images: np.ndarray, labels: np.ndarray, boxes: np.ndarray, channels: int
) -> float:
    maps = []
    for start in range(0, len(images), BATCH_SIZE):
        batch = images[start : start + BATCH_SIZE].astype(np.float32) / 255
        targets = [[int(label)] for label in labels[start : start + BATCH_SIZE]]
        maps.append(cam.explain(batch, targets, score="logit", max_channels=channels).heatmaps)
    return float(np.mean(hits(np.concatenate(maps), boxes)))


def evaluate(
    n: int, seed: int, runs: dict[str, list[str | None]], channels: int, vit: Path
) -> dict[tuple[str, str, str], float]:
    """{(model, layer, method): pointing} plus {(model, "", "accuracy"): accuracy};
    `runs`: {"shapes" | "shapes_vit": layers (None: the default layer)}."""
    images, labels, boxes = make_shapes(n, seed)
    figures: dict[tuple[str, str, str], float] = {}
    paths = {"shapes": MODELS / "shapes" / "model.keras", "shapes_vit": vit}
    for model_id, model_layers in runs.items():
        model = load(paths[model_id])
        figures[(model_id, "", "accuracy")] = accuracy(model, images, labels)
        for layer in model_layers:
            for method in model_methods(model):
                cam = GradCam(model, layer, method=method)
                key = (model_id, cam.layer.name, method)
                figures[key] = pointing(cam, images, labels, boxes, channels)
                print(f"{model_id:10s} {cam.layer.name:14s} {method:20s} {figures[key]:.3f}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--seed", type=int, default=4242)
    parser.add_argument("--layer", action="append", default=[], help="more shapes_vit layers")
    parser.add_argument("--max-channels", type=int, default=32)
    parser.add_argument("--vit", type=Path, default=MODELS / "shapes_vit" / "model.keras")
    parser.add_argument("--no-shapes", action="store_true", help="only shapes_vit")
    args = parser.parse_args()
    runs: dict[str, list[str | None]] = {} if args.no_shapes else {"shapes": [None]}
    runs["shapes_vit"] = [None, *args.layer]
    figures = evaluate(args.n, args.seed, runs, args.max_channels, args.vit)
    print(f"\n{args.n} one-shape images, seed {args.seed}")
    for (model_id, _, method), value in figures.items():
        if method == "accuracy":
            print(f"accuracy {model_id}: {value:.2%}")


if __name__ == "__main__":
    main()
