"""The pictures of docs/targets.md: a region map and a box map on a two-shape scene.

    python -m bench.target_pictures [--models-dir models] [--out docs] [--seed 3]

One held-out scene with two shapes of different classes (training.shapes_data); for
each shape, models/shapes_seg explains its region target (the pixels predicted as its
class) and models/shapes_det its box target (the shape's true box), through the same
explain stage as a request, with draw_targets on. Each picture is the scene, then one
overlay per shape: the map should sit on the shape asked about, not on the other.
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
from PIL import Image

from app.explain.images import explain_images
from app.explain.options import ExplainOptions, RequestTarget
from app.preprocess.image import ImageLimits
from app.registry.registry import load_latest
from training.shapes_data import make_two_objects

SCALE = 4  # 64 px scenes shown at 256 px


def scene(seed: int) -> tuple[bytes, np.ndarray, np.ndarray]:
    """A PNG of one two-shape scene, its labels (2,) and boxes (2, 4) xyxy in pixels."""
    images, labels, boxes = make_two_objects(1, seed)
    buffer = io.BytesIO()
    Image.fromarray(images[0]).save(buffer, format="PNG")
    return buffer.getvalue(), labels[0], boxes[0]


def overlays(
    models_dir: Path, model_id: str, upload: bytes, targets: list[RequestTarget]
) -> list[Image.Image]:
    served = load_latest(models_dir, model_id, None)
    options = ExplainOptions(targets=list(targets), overlay_format="png", draw_targets=True)
    result = explain_images(served, [upload], options, ImageLimits(10**7, 4096))
    return [
        Image.open(io.BytesIO(target.overlay_bytes or b"")).convert("RGB")
        for target in result.explanations[0].targets
    ]


def strip(pictures: list[Image.Image]) -> Image.Image:
    """Pictures side by side, each scaled `SCALE` times (nearest), 8 px apart."""
    side = 64 * SCALE
    sheet = Image.new("RGB", (len(pictures) * (side + 8) - 8, side), "white")
    for index, picture in enumerate(pictures):
        sheet.paste(picture.resize((side, side), Image.Resampling.NEAREST), (index * (side + 8), 0))
    return sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--out", type=Path, default=Path("docs"))
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    upload, labels, boxes = scene(args.seed)
    original = Image.open(io.BytesIO(upload)).convert("RGB")
    # shapes_seg's classes are background first, then the shapes: label + 1.
    regions = [RequestTarget(int(label) + 1) for label in labels]
    detections = [
        RequestTarget(int(label), box=tuple(float(v) for v in box))  # type: ignore[arg-type]
        for label, box in zip(labels, boxes, strict=True)
    ]
    pictures = {
        "targets-region.png": overlays(args.models_dir, "shapes_seg", upload, regions),
        "targets-box.png": overlays(args.models_dir, "shapes_det", upload, detections),
    }
    for name, maps in pictures.items():
        strip([original, *maps]).save(args.out / name)
        print(f"wrote {args.out / name}")


if __name__ == "__main__":
    main()
