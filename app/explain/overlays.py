"""Overlay pictures of an image's maps: which picture (composite, layer or none), its
encoding, and its bytes on the target's result."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image

from app.errors import InvalidInput
from app.explain.options import ExplainOptions
from app.explain.results import TargetResult
from app.preprocess.image import cap_longest_side
from app.render.encode import data_url, encode_image
from app.render.overlay import blend_overlay, heatmap_layer, layer_size, paste_overlay


def check_overlay_format(options: ExplainOptions) -> None:
    if options.overlay == "layer" and options.overlay_format == "jpeg":
        raise InvalidInput("overlay=layer is transparent: ask for png or webp, not jpeg")


def overlay_format_for(options: ExplainOptions, from_jpeg: bool) -> str:
    """The overlay's encoding: as asked, or for "auto" a JPEG when the upload was one.

    A photo sent as a JPEG gets its composite back as a JPEG: as a PNG the 640x480
    composite of the benchmark's photo was 587 KB (a 789 KB JSON answer) where the
    upload was 88 KB. The layer is transparent and a drawing or screenshot (PNG, WebP,
    GIF) has sharp edges JPEG would blur: those stay PNG.
    """
    if options.overlay_format != "auto":
        return options.overlay_format
    return "jpeg" if from_jpeg and options.overlay is True else "png"


def overlay_drawer(
    image: Image.Image, options: ExplainOptions, fmt: str
) -> Callable[[np.ndarray], Image.Image] | None:
    """heatmap -> the picture to send for one image: the composite, the layer or none."""
    colormap, alpha_limit = options.colormap, options.alpha_limit
    if options.overlay == "layer":
        # No pixels of the image are needed, only its size: the client scales the layer
        # over its own copy of the image, so the layer is sized by what the map holds.
        def draw_layer(heatmap: np.ndarray) -> Image.Image:
            size = layer_size(image.size, heatmap.shape, options.overlay_max_side)
            return heatmap_layer(heatmap, size, colormap=colormap, alpha_limit=alpha_limit)

        return draw_layer
    if options.overlay:
        shown = cap_longest_side(image, options.overlay_max_side)
        # JPEG keeps no alpha: over an opaque image the cheaper RGB paste gives its pixels.
        opaque = not shown.has_transparency_data
        blend = paste_overlay if fmt == "jpeg" and opaque else blend_overlay
        return lambda heatmap: blend(shown, heatmap, colormap=colormap, alpha_limit=alpha_limit)
    return None


def add_overlay(target: TargetResult, picture: Image.Image, fmt: str) -> None:
    target.overlay_bytes = encode_image(picture, fmt)
    target.overlay = data_url(target.overlay_bytes, fmt)
