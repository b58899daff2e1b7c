"""Outlines of what a map explains, drawn over its overlay: a region's edge or a box."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

OUTLINE = (255, 255, 255, 255)  # white over the colormaps' dark and bright ends alike
WIDTH = 2


def draw_box(picture: Image.Image, box: list[float], image_size: tuple[int, int]) -> Image.Image:
    """`picture` with `box` ([x0, y0, x1, y1] in the image's pixels) outlined; the
    picture may be the image scaled down."""
    scale_x = picture.width / image_size[0]
    scale_y = picture.height / image_size[1]
    x0, y0, x1, y1 = box
    outlined = picture.copy()
    corners = [x0 * scale_x, y0 * scale_y, x1 * scale_x - 1, y1 * scale_y - 1]
    ImageDraw.Draw(outlined).rectangle(
        corners, outline=OUTLINE[: len(outlined.getbands())], width=WIDTH
    )
    return outlined


def draw_region(picture: Image.Image, region: np.ndarray) -> Image.Image:
    """`picture` with the edge of `region` (h', w') (non-zero = inside) drawn, the region
    resized nearest to the picture."""
    inside = Image.fromarray((np.asarray(region) != 0).astype(np.uint8) * 255)
    mask = np.asarray(inside.resize(picture.size, Image.Resampling.NEAREST)) != 0
    edge = mask & ~erode(mask)
    outlined = np.array(picture)
    outlined[edge] = OUTLINE[: outlined.shape[-1]] if outlined.ndim == 3 else 255
    return Image.fromarray(outlined, mode=picture.mode)


def erode(mask: np.ndarray) -> np.ndarray:
    """`mask` minus its border pixels (4-neighbourhood, `WIDTH` steps)."""
    inner = mask.copy()
    for _ in range(WIDTH):
        padded = np.pad(inner, 1, constant_values=False)
        inner = (
            padded[1:-1, 1:-1]
            & padded[:-2, 1:-1]
            & padded[2:, 1:-1]
            & padded[1:-1, :-2]
            & padded[1:-1, 2:]
        )
    return inner
