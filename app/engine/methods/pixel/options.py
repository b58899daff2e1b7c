"""The options of the pixel-level methods, their limits, and the baseline images.

Defaults follow the outside definitions: SmoothGrad's 20 samples at noise 0.2
(tf-keras-vis), Integrated Gradients' black baseline and 32 steps of Captum's
`riemann_trapezoid` rule.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from app.errors import InvalidInput

BASELINES = ("black", "white", "blur")
MAX_SAMPLES = 64  # noisy copies (or path points) run in one pass: memory grows with them
MAX_STEPS = 64
MAX_SEED = 2**31 - 1
# "blur": a Gaussian blur of the image, sigma = this fraction of its longer side.
BLUR_SIGMA = 0.05

Scaling = Callable[[np.ndarray], np.ndarray]  # pixels 0..255 -> the model's input


@dataclass(frozen=True)
class PixelOptions:
    samples: int = 20  # smoothgrad: noisy copies averaged
    noise: float = 0.2  # smoothgrad: sigma / (max - min) of the input
    seed: int | None = None  # smoothgrad: None draws one per call
    steps: int = 32  # integrated-gradients: points on the path, both ends included
    baseline: str | None = None  # integrated-gradients: black (default), white, blur

    def check(self) -> None:
        if not 1 <= self.samples <= MAX_SAMPLES:
            raise InvalidInput(f"samples must be in [1, {MAX_SAMPLES}], not {self.samples}")
        if not 0.0 <= self.noise <= 10.0 or not np.isfinite(self.noise):
            raise InvalidInput(f"noise must be in [0, 10], not {self.noise}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise InvalidInput(f"seed must be in [0, {MAX_SEED}], not {self.seed}")
        if not 2 <= self.steps <= MAX_STEPS:
            raise InvalidInput(f"steps must be in [2, {MAX_STEPS}], not {self.steps}")
        if self.baseline is not None and self.baseline not in BASELINES:
            raise InvalidInput(
                f"baseline must be one of {', '.join(BASELINES)}, not {self.baseline!r}"
            )


def baseline_inputs(kind: str | None, pixels: np.ndarray, scaling: Scaling) -> np.ndarray:
    """The baseline of each image as the model sees it: `pixels` (B, H, W, C) 0..255 ->
    black, white, or the image blurred (per channel), then `scaling`."""
    if kind in (None, "black"):
        return scaling(np.zeros_like(pixels))
    if kind == "white":
        return scaling(np.full_like(pixels, 255))
    sigma = BLUR_SIGMA * max(pixels.shape[1:3])
    blurred = ndimage.gaussian_filter(pixels.astype(np.float32), sigma=(0, sigma, sigma, 0))
    return scaling(blurred)


def draw_seed(seed: int | None) -> np.ndarray:
    """The stateless random seed `(2,)` int32 of one call."""
    if seed is None:
        seed = int(np.random.default_rng().integers(0, MAX_SEED))
    return np.array([seed, 0], dtype=np.int32)
