"""Colormaps: a [0, 1] heatmap to RGBA colours, identical to matplotlib's colormaps.

The lookup tables come from the light `cmap` package; matplotlib is only a test oracle.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from cmap import Colormap

from app.errors import InvalidInput

# Public name -> `cmap` catalogue name. Namespaced so a catalogue change cannot
# silently swap in a different map under the same short name.
_CATALOG_NAMES = {
    "viridis": "bids:viridis",
    "plasma": "bids:plasma",
    "inferno": "bids:inferno",
    "magma": "bids:magma",
    "cividis": "cividis:cividis",
    "turbo": "google:turbo",
    "jet": "matlab:jet",
    "gray": "matlab:gray",
}

COLORMAPS: tuple[str, ...] = tuple(_CATALOG_NAMES)

# matplotlib's default resolution: its colormaps are 256-entry lookup tables.
_LUT_SIZE = 256


def colorize(heatmap: np.ndarray, name: str) -> np.ndarray:
    """Map a heatmap of any shape with values in [0, 1] to RGBA floats in [0, 1].

    Returns an array of shape `heatmap.shape + (4,)`, equal to
    `matplotlib.colormaps[name](heatmap)`: values below 0 or above 1 take the end
    colours, NaN becomes transparent black.
    """
    lut = _lookup_table(_catalog_name(name))
    values = np.asarray(heatmap, dtype=np.float64)
    is_nan = np.isnan(values)
    # matplotlib's indexing: floor(x * N), with x == 1 folded into the last entry.
    scaled = np.clip(np.where(is_nan, 0.0, values), 0.0, 1.0) * _LUT_SIZE
    index = np.minimum(scaled.astype(np.intp), _LUT_SIZE - 1)
    rgba = lut[index]
    rgba[is_nan] = 0.0
    return rgba


def _catalog_name(name: str) -> str:
    try:
        return _CATALOG_NAMES[name]
    except KeyError:
        valid = ", ".join(COLORMAPS)
        raise InvalidInput(f"unknown colormap {name!r}; valid colormaps: {valid}") from None


@cache
def _lookup_table(catalog_name: str) -> np.ndarray:
    lut = np.asarray(Colormap(catalog_name).lut(_LUT_SIZE), dtype=np.float64)
    lut.setflags(write=False)
    return lut
