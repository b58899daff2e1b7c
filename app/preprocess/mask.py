"""A region mask (a PNG, non-zero = inside) read and sampled at an output's grid.

The mask is sampled at the grid's cells by index arithmetic on the decoded pixels, with
the indices Pillow's nearest resize uses, so the region is the one a resize would give
without its round trips (a bool -> uint8 picture, a resized copy, an array again).
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from app.errors import InvalidInput

# What a broken PNG can raise while Pillow parses or decodes it.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    Image.DecompressionBombError,  # its header claims more pixels than Pillow allows
    OSError,
    SyntaxError,
    ValueError,
    EOFError,
)


def open_mask(png: bytes) -> Image.Image:
    """The mask's header read (its size known), its pixels not yet decoded."""
    try:
        return Image.open(io.BytesIO(png))
    except _DECODE_ERRORS as exc:
        raise InvalidInput(f"a target's mask is not a readable PNG: {exc}") from None


def inside_at_grid(mask: Image.Image, grid: tuple[int, ...]) -> np.ndarray:
    """(h', w') bool: the mask's pixel nearest each grid cell is non-zero (any channel)."""
    try:
        values = np.asarray(mask)
    except _DECODE_ERRORS as exc:
        raise InvalidInput(f"a target's mask is not a readable PNG: {exc}") from None
    rows = nearest_indices(values.shape[0], grid[0])
    columns = nearest_indices(values.shape[1], grid[1])
    picked = values[rows[:, None], columns]  # only the sampled pixels are compared
    inside: np.ndarray = picked.any(axis=-1) if picked.ndim == 3 else picked != 0
    return inside


def nearest_indices(source: int, target: int) -> np.ndarray:
    """For each of `target` cells, the source index Pillow's NEAREST resize reads: the
    cell's centre, 0.5 * step then stepped by `source / target` in float64, truncated.
    Accumulated as Pillow does (ImagingScaleAffine), so ties round the same way."""
    step = source / target
    centres = np.full(target, step)
    centres[0] = step * 0.5
    return np.add.accumulate(centres).astype(np.intp)
