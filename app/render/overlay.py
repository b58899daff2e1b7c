"""Heatmap overlays: ELI5 0.16's `format_as_image`, step for step."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.errors import InvalidInput
from app.preprocess.image import capped_size
from app.render.colormap import colorize

# A heatmap is a few cells a side (7x7 at EfficientNet's last block); coloured and
# resized it is a smooth field, so a layer needs no more pixels than this per cell.
# Scaled up bilinearly to the full size of a 640x480 photo (as a browser draws it) and
# laid over the photo, a 32-px-per-cell layer differs from the full-size composite by
# at most 4.7 levels of 255 (99.9th percentile 2.6), for 7x7 and 14x14 maps; 16 or 48
# px per cell gave 4.4-5.2, so what remains is 8-bit rounding, not resolution (measured
# on 40 random maps; tests/api/test_overlay_layer.py checks a bound).
LAYER_PIXELS_PER_CELL = 32


def blend_overlay(
    image: Image.Image,
    heatmap: np.ndarray,
    *,
    colormap: str = "viridis",
    alpha_limit: float = 0.65,
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """Lay a coloured heatmap over `image`; returns an RGBA image of the image's size.

    `heatmap` has shape (h, w) at the target layer's resolution with values in
    [0, 1] (or [-1, 1] when relu is off). The heatmap is coloured at its own
    resolution and only then resized, as ELI5 does; its opacity is its value,
    capped at `alpha_limit`, so unimportant regions stay see-through.
    """
    layer = heatmap_layer(
        heatmap, image.size, colormap=colormap, alpha_limit=alpha_limit, resample=resample
    )
    return Image.alpha_composite(image.convert("RGBA"), layer)


def paste_overlay(
    image: Image.Image,
    heatmap: np.ndarray,
    *,
    colormap: str = "viridis",
    alpha_limit: float = 0.65,
) -> Image.Image:
    """`blend_overlay` for an opaque `image`, as RGB: the layer pasted through its own
    alpha. The same pixels (Pillow's paste blend rounds as its alpha composite does over
    an opaque image; tests/render/test_overlay.py checks), in 0.9 ms instead of 4.9 for
    the RGBA conversion, the composite and the drop of the alpha (640x480, measured):
    for a lossy format, which has no alpha to keep."""
    layer = heatmap_layer(heatmap, image.size, colormap=colormap, alpha_limit=alpha_limit)
    composite = image.convert("RGB")  # a copy: the caller's image is drawn on again
    composite.paste(layer, (0, 0), layer)
    return composite


def heatmap_layer(
    heatmap: np.ndarray,
    size: tuple[int, int],
    *,
    colormap: str = "viridis",
    alpha_limit: float = 0.65,
    resample: Image.Resampling = Image.Resampling.LANCZOS,
) -> Image.Image:
    """The coloured, see-through heatmap alone: RGBA of `size` (width, height).

    What `blend_overlay` lays over the image, for a client that draws its own image
    and lays this over it (`overlay=layer`): composited over the image with the
    usual "over" operator it gives the overlay back, to within rounding.
    """
    if heatmap.ndim != 2:
        raise InvalidInput(f"an image heatmap must be 2-D, got shape {heatmap.shape}")
    if not 0.0 <= alpha_limit <= 1.0:
        raise InvalidInput(f"alpha_limit must be between 0 and 1, got {alpha_limit}")
    # The overlay shows positive evidence: negative values (relu off) become 0,
    # i.e. transparent. Unclipped they would make a negative alpha (no uint8 value).
    positive = np.clip(heatmap, 0.0, 1.0)
    return _heatmap_image(positive, colormap, alpha_limit).resize(size, resample=resample)


def layer_size(
    image_size: tuple[int, int], heatmap_shape: tuple[int, ...], max_side: int
) -> tuple[int, int]:
    """(width, height) of an `overlay=layer` picture: the image's aspect, its longest side
    at most `max_side` and `LAYER_PIXELS_PER_CELL` per cell of the heatmap's longest side."""
    capped = capped_size(image_size, max_side)
    return capped_size(capped, LAYER_PIXELS_PER_CELL * max(heatmap_shape))


def _heatmap_image(heatmap: np.ndarray, colormap: str, alpha_limit: float) -> Image.Image:
    rgba = colorize(heatmap, colormap)
    # Alpha computed in the heatmap's own dtype (no cast), as ELI5 does.
    rgba[..., 3] = np.minimum(heatmap, alpha_limit)
    # ELI5 truncates (astype), it does not round; matching it keeps pixels equal.
    return Image.fromarray((rgba * 255).astype(np.uint8))
