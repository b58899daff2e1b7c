"""Outlines of regions and boxes over overlays, checked pixel by pixel."""

from __future__ import annotations

import numpy as np
from PIL import Image

from app.render.outline import draw_box, draw_region


def test_a_region_edge_is_drawn_and_its_inside_kept():
    picture = Image.new("RGB", (16, 16))
    region = np.zeros((4, 4), np.uint8)
    region[1:3, 1:3] = 1  # pixels 4..11 of the picture
    pixels = np.asarray(draw_region(picture, region))
    white = pixels.min(axis=-1) == 255
    assert white[4, 4:12].all() and white[11, 4:12].all() and white[4:12, 4].all()
    assert not white[6:10, 6:10].any()  # inside, more than 2 pixels from the edge
    assert not white[:4].any() and not white[12:].any()  # outside


def test_a_box_is_drawn_at_the_picture_scale():
    picture = Image.new("RGBA", (20, 10))
    pixels = np.asarray(draw_box(picture, [10, 4, 30, 16], (40, 20)))  # half scale
    assert (pixels[2, 5:15] == 255).all()  # top edge at y0 = 2
    assert (pixels[7, 5] == 255).all()  # left edge at x0 = 5
    assert (pixels[5, 8] == 0).all()  # inside
