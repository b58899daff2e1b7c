"""Where a map points: the pointing game and its energy-based variant.

- Pointing game (Zhang et al., 2016, "Top-down Neural Attention by Excitation Backprop"):
  a hit when the map's maximum, on the map resized (bilinear) to the image, falls inside
  the object's box grown by a margin of `margin` pixels on each side (15 px in the paper,
  for its tolerance of small misplacements). Ties: a hit when any maximal pixel is inside
  (as Quantus 0.6's `PointingGame`); a constant map (all zero) points nowhere: a miss.
- Energy-based pointing game (Wang et al., 2020, "Score-CAM", section 5.2): the share of
  the map's mass that lies inside the box or mask, sum(map * inside) / sum(map) (Quantus's
  `RelevanceMassAccuracy`); a map with no mass scores 0.

Boxes are `(x0, y0, x1, y1)` in pixels of the model input, x1/y1 exclusive, clipped to it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Box = Sequence[float]


def box_mask(box: Box, size: tuple[int, int], margin: float = 0.0) -> np.ndarray:
    """A boolean `(H, W)` mask of `box` grown by `margin` pixels, clipped to the image."""
    height, width = size
    x0, y0, x1, y1 = (float(v) for v in box)
    rows = np.arange(height) + 0.5  # pixel centres
    cols = np.arange(width) + 0.5
    inside_y = (rows >= y0 - margin) & (rows < y1 + margin)
    inside_x = (cols >= x0 - margin) & (cols < x1 + margin)
    return np.asarray(inside_y[:, None] & inside_x[None, :])


def pointing_hit(heatmap: np.ndarray, region: np.ndarray) -> bool:
    """Whether the maximum of `heatmap` `(H, W)` (at image size) lies in `region` `(H, W)`."""
    values = np.asarray(heatmap, np.float64)
    if np.ptp(values) == 0:
        return False
    return bool(np.any(region & (values == values.max())))


def energy_inside(heatmap: np.ndarray, region: np.ndarray) -> float:
    """The share of the map's mass inside `region`, in [0, 1] (negative values count 0)."""
    values = np.maximum(np.asarray(heatmap, np.float64), 0.0)
    total = values.sum()
    return float(values[region].sum() / total) if total > 0 else 0.0


def border_share(heatmap: np.ndarray, width_fraction: float = 0.1) -> float:
    """The share of the map's mass within `width_fraction` of the image's edge: a class whose
    mean map sits there looks at the frame, not the object."""
    height, width = np.shape(heatmap)
    band_y = max(1, round(height * width_fraction))
    band_x = max(1, round(width * width_fraction))
    inner = np.zeros((height, width), bool)
    inner[band_y : height - band_y, band_x : width - band_x] = True
    return energy_inside(heatmap, ~inner)
