"""One picture: the same photo and target explained by every CAM method, side by side.

    python -m bench.method_gallery [--models-dir models] [--photo docs/examples/cat_and_coffee.jpg]
        [--out docs/methods-gallery.png]

The target is the model's top class for the photo; every method runs at the card's
default layer with its defaults (Score-CAM and Ablation-CAM: 32 channels), and the map
is drawn as the service draws overlays.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path

from PIL import Image, ImageDraw

from app.engine.methods import CAM_METHOD_NAMES as METHOD_NAMES  # the fourteen CAM methods
from app.engine.runtime.gradcam import GradCam
from app.preprocess.image import to_model_array
from app.render.overlay import blend_overlay
from bench.method_models import REPO, load_image_model

TILE = 250
COLUMNS = 4
LABEL_HEIGHT = 22


def explain_all(models_dir: Path, model_id: str, photo: Path) -> list[tuple[str, Image.Image]]:
    loaded = load_image_model(models_dir, model_id)
    image = Image.open(photo).convert("RGB")
    pixels = to_model_array(image, loaded.size, loaded.resize, "rgb")[None]
    inputs = loaded.scaling(pixels)
    tiles = [("photo", image)]
    target: list[int] | None = None
    for method in METHOD_NAMES:
        result = GradCam(loaded.model, loaded.layer, method=method).explain(inputs, target)
        target = [int(result.targets[0])]  # every method explains the first one's top class
        tiles.append((method, blend_overlay(image, result.heatmaps[0])))
    assert target is not None
    tiles[0] = (f"{photo.name}, target: {label_of(loaded.labels, target[0])}", image)
    return tiles


def label_of(labels: list[str], index: int) -> str:
    return labels[index] if index < len(labels) else str(index)


def sheet(tiles: list[tuple[str, Image.Image]]) -> Image.Image:
    """Tiles `TILE` wide (height by the photo's aspect), `COLUMNS` a row, labelled above."""
    first = tiles[0][1]
    height = round(TILE * first.height / first.width)
    rows = -(-len(tiles) // COLUMNS)
    canvas = Image.new("RGB", (TILE * COLUMNS, rows * (height + LABEL_HEIGHT)), "white")
    draw = ImageDraw.Draw(canvas)
    for index, (label, picture) in enumerate(tiles):
        x, y = (index % COLUMNS) * TILE, (index // COLUMNS) * (height + LABEL_HEIGHT)
        canvas.paste(
            picture.resize((TILE, height), Image.Resampling.LANCZOS), (x, y + LABEL_HEIGHT)
        )
        draw.text((x + 4, y + 5), label, fill="black")
    return canvas


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument(
        "--photo", type=Path, default=REPO / "docs" / "examples" / "cat_and_coffee.jpg"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "methods-gallery.png")
    args = parser.parse_args()
    tiles = explain_all(args.models_dir, args.model, args.photo)
    sheet(tiles).save(args.out, optimize=True)  # true colour: a palette bands the maps
    print(f"wrote {args.out} ({len(tiles) - 1} methods)")


if __name__ == "__main__":
    main()
