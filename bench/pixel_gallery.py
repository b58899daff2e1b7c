"""One picture: the pixel-level methods on one photo and target, beside Grad-CAM.

    python -m bench.pixel_gallery [--models-dir models] [--photo docs/examples/cat_and_coffee.jpg]
        [--out docs/pixel-methods-gallery.png]

The sibling of `bench.method_gallery`: the target is the model's top class for the photo,
every method runs with its defaults (smoothgrad: 20 samples, seed 0; integrated-gradients:
32 steps, black baseline; Guided Grad-CAM at the card's default layer). Top row: the
photo, Grad-CAM and the maps drawn as the service draws overlays; bottom row: each
pixel-level map alone (white = 0, black = its 99.5th percentile and above: a few extreme
pixels would otherwise leave the rest white), where fine detail shows.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from pathlib import Path

import numpy as np
from PIL import Image

from app.engine.methods import PIXEL_METHODS
from app.engine.methods.pixel.options import PixelOptions, baseline_inputs
from app.engine.runtime.gradcam import GradCam
from app.preprocess.image import to_model_array
from app.render.overlay import blend_overlay
from bench.method_gallery import label_of, sheet
from bench.method_models import REPO, load_image_model


def explain_pixels(models_dir: Path, model_id: str, photo: Path) -> list[tuple[str, Image.Image]]:
    loaded = load_image_model(models_dir, model_id)
    image = Image.open(photo).convert("RGB")
    pixels = to_model_array(image, loaded.size, loaded.resize, "rgb")[None]
    inputs = loaded.scaling(pixels)
    gradcam = GradCam(loaded.model, loaded.layer).explain(inputs)
    target = [int(gradcam.targets[0])]
    overlays = [("gradcam", blend_overlay(image, gradcam.heatmaps[0]))]
    alone = []
    options = PixelOptions(seed=0)
    baselines = baseline_inputs(None, pixels, loaded.scaling)
    for method in PIXEL_METHODS:
        cam = GradCam(loaded.model, loaded.layer, method=method)
        result = cam.explain(inputs, target, pixel=options, baselines=baselines)
        heatmap = result.heatmaps[0]
        overlays.append((method, blend_overlay(image, heatmap)))
        top = max(float(np.percentile(heatmap, 99.5)), 1e-7)
        grey = np.uint8(255 - 255 * np.clip(heatmap / top, 0, 1))
        alone.append((f"{method} (map)", Image.fromarray(grey).resize(image.size).convert("RGB")))
    title = f"{photo.name}, target: {label_of(loaded.labels, target[0])}"
    return [(title, image), *overlays, *alone]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument(
        "--photo", type=Path, default=REPO / "docs" / "examples" / "cat_and_coffee.jpg"
    )
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "pixel-methods-gallery.png")
    args = parser.parse_args()
    tiles = explain_pixels(args.models_dir, args.model, args.photo)
    sheet(tiles).save(args.out, optimize=True)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
