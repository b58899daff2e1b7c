"""Occlusion (Zeiler & Fergus 2014), as Captum's `Occlusion` computes it.

Black windows (pixel value 0 before the card's scaling, every channel) of `window` px
slide at `stride` px, placed at 0, stride, ... while the window fits, along each axis.
A pixel's value is the mean, over the windows covering it, of score(x) - score(x with
the window black); a pixel no window covers gets 0. When `(side - window)` is a multiple
of `stride` (the defaults on square inputs whose side is a multiple of 16) these are
Captum's windows exactly; otherwise Captum adds a last window cut at the border, which
this method leaves out. `tests/engine/methods/test_blackbox.py` compares with Captum
0.9.0 through `tests/data/occlusion_reference.npz` (`bench/occlusion_reference.py`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from app.engine.methods.blackbox import BlackBoxOptions, Rows, Scorer, score_chunks
from app.errors import InvalidInput


def window_shape(size: tuple[int, int], options: BlackBoxOptions) -> tuple[int, int, int, int]:
    """(window h, window w, stride h, stride w) for an input of `size` (H, W)."""
    if options.occlusion_window is None:
        windows = (max(1, size[0] // 8), max(1, size[1] // 8))
    else:
        windows = (options.occlusion_window, options.occlusion_window)
    if any(window < 1 or window > side for window, side in zip(windows, size, strict=True)):
        raise InvalidInput(
            f"occlusion_window must be in [1, {min(size)}] for this model's "
            f"{size[1]}x{size[0]} input, not {options.occlusion_window}"
        )
    if options.occlusion_stride is None:
        strides = (max(1, windows[0] // 2), max(1, windows[1] // 2))
    else:
        strides = (options.occlusion_stride, options.occlusion_stride)
    if any(stride < 1 for stride in strides):
        raise InvalidInput(f"occlusion_stride must be at least 1, not {options.occlusion_stride}")
    return (*windows, *strides)


def window_corners(size: tuple[int, int], shape: tuple[int, int, int, int]) -> np.ndarray:
    """Top-left corners `(K, 2)` of every window, row-major."""
    rows = np.arange(0, size[0] - shape[0] + 1, shape[2])
    cols = np.arange(0, size[1] - shape[1] + 1, shape[3])
    return np.stack(np.meshgrid(rows, cols, indexing="ij"), axis=-1).reshape(-1, 2)


def occlusion_map(
    scorer: Scorer, rows: Rows, options: BlackBoxOptions, chunk_rows: int
) -> np.ndarray:
    """Raw maps `(N, H, W)`: the mean score drop of the windows covering each pixel."""
    size = (int(rows.pixels.shape[1]), int(rows.pixels.shape[2]))
    shape = window_shape(size, options)
    corners = window_corners(size, shape)
    samples = np.unique(rows.sample)

    def occluded() -> Iterator[np.ndarray]:
        for b in samples:
            for top, left in corners:
                image = rows.pixels[b].copy()
                image[top : top + shape[0], left : left + shape[1]] = 0
                yield image

    scores, _ = score_chunks(scorer, occluded(), chunk_rows)
    scores = scores.reshape(len(samples), len(corners), -1)
    coverage = np.zeros(size)
    for top, left in corners:
        coverage[top : top + shape[0], left : left + shape[1]] += 1
    maps = np.zeros((len(rows.sample), *size))
    for row, (b, target) in enumerate(zip(rows.sample, rows.targets, strict=True)):
        drops = rows.base[b, target] - scores[np.searchsorted(samples, b), :, target]
        for (top, left), drop in zip(corners, drops, strict=True):
            maps[row, top : top + shape[0], left : left + shape[1]] += drop
    return np.divide(maps, coverage, out=np.zeros_like(maps), where=coverage > 0)
