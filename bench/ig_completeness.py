"""Integrated Gradients' completeness gap on the bundled image models.

    python -m bench.ig_completeness [--steps 32] [--shapes 16]

For each image and its top class (`score=logit`), each baseline (black, white, blur):
`gap = sum(attribution) - (score(x) - score(baseline))`, printed relative to
`|score(x) - score(baseline)|` (median and largest over the images). Captum's
`riemann_trapezoid` weights sum to `(n - 1) / n`, so its attribution is `(n - 1) / n` of
the trapezoid rule's on the same points; the `trapezoid` columns rescale by `n / (n - 1)`
to show how far the path integral itself is from complete. Models: `shapes` on held-out
images (seed 31337), `efficientnet_lite0` on the photos of `docs/examples/`.
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


import numpy as np

from app.engine.methods.pixel.options import BASELINES, PixelOptions, baseline_inputs
from app.engine.runtime.gradcam import GradCam
from bench.method_models import REPO, ImageModel, load_image_model, load_photos
from training.shapes_data import make_shapes


def relative_gaps(
    loaded: ImageModel, pixels: np.ndarray, kind: str, steps: int
) -> tuple[np.ndarray, np.ndarray]:
    """(Captum's rule, the trapezoid rule): |gap| / |score(x) - score(baseline)| per image."""
    cam = GradCam(loaded.model, loaded.layer, method="integrated-gradients")
    inputs = loaded.scaling(pixels)
    baselines = baseline_inputs(kind, pixels, loaded.scaling)
    options = PixelOptions(steps=steps, baseline=kind)
    gaps, sums = [], []
    for start in range(0, len(inputs), 4):
        rows = slice(start, start + 4)
        result = cam.explain(inputs[rows], relu=False, pixel=options, baselines=baselines[rows])
        assert result.gaps is not None
        gaps.append(result.gaps)
        sums.append(result.cams.reshape(len(result.cams), -1).sum(axis=1))
    gap, total = np.concatenate(gaps), np.concatenate(sums)
    delta = total - gap  # score(x) - score(baseline)
    trapezoid = total * steps / (steps - 1) - delta
    return np.abs(gap / delta), np.abs(trapezoid / delta)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--shapes", type=int, default=16)
    args = parser.parse_args()
    efficientnet = load_image_model(REPO / "models", "efficientnet_lite0")
    _, photos = load_photos(REPO / "docs" / "examples", efficientnet)
    shapes = load_image_model(REPO / "models", "shapes")
    images = make_shapes(args.shapes, seed=31337)[0].astype(np.float32)
    print(f"steps={args.steps}; |gap| / |score(x) - score(baseline)|: median / max\n")
    print("| model | images | baseline | Captum's rule | trapezoid rule |")
    print("|---|---:|---|---:|---:|")
    for name, loaded, pixels in (
        ("shapes", shapes, images),
        ("efficientnet_lite0", efficientnet, photos.astype(np.float32)),
    ):
        for kind in BASELINES:
            captum, trapezoid = relative_gaps(loaded, pixels, kind, args.steps)
            print(
                f"| {name} | {len(pixels)} | {kind} "
                f"| {np.median(captum):.2%} / {captum.max():.2%} "
                f"| {np.median(trapezoid):.2%} / {trapezoid.max():.2%} |"
            )


if __name__ == "__main__":
    main()
