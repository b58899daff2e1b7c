"""Synthetic `shapes` data: one (or two) filled shapes on a noisy plain background.

Spec (the contract the `shapes` model card documents):

- 64x64 RGB uint8 images; labels in `LABELS` order.
- Background: one uniform random RGB colour per image plus Gaussian pixel noise
  (sigma 8, clipped to 0..255). The shape is painted flat on top of it.
- One filled shape per image, bounding-box side 14..30 px (inclusive), fully inside
  the image at a random position, colour uniform random but at least 80 away from the
  background in mean absolute RGB difference.
- circle = disc inscribed in its box; square = the filled box; triangle = upright
  isosceles triangle (apex at top centre, base = bottom edge); cross = plus sign with
  arm width one third of its box, centred.

Boxes are `(x0, y0, x1, y1)` in pixels, inclusive-exclusive: the shape covers columns
`x0 .. x1-1` and rows `y0 .. y1-1` (so `x1 - x0` is the side).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw

LABELS = ("circle", "square", "triangle", "cross")
IMAGE_SIZE = 64
MIN_SIDE, MAX_SIDE = 14, 30
NOISE_SIGMA = 8.0
MIN_COLOUR_DISTANCE = 80.0
# Noise is drawn per chunk so 40k images never need a multi-GB float buffer.
CHUNK = 2048


@functools.cache
def shape_mask(label: int, side: int) -> np.ndarray:
    """Boolean `(side, side)` mask of shape `label` filling a `side`-px box."""
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    last = side - 1
    if LABELS[label] == "circle":
        draw.ellipse((0, 0, last, last), fill=1)
    elif LABELS[label] == "square":
        draw.rectangle((0, 0, last, last), fill=1)
    elif LABELS[label] == "triangle":
        draw.polygon([(last / 2, 0), (0, last), (last, last)], fill=1)
    else:
        arm = round(side / 3)
        start = (side - arm) // 2
        draw.rectangle((0, start, last, start + arm - 1), fill=1)
        draw.rectangle((start, 0, start + arm - 1, last), fill=1)
    return np.asarray(canvas, dtype=bool)


def random_boxes(rng: np.random.Generator, n: int) -> np.ndarray:
    """`(n, 4)` int boxes with a random side in 14..30, fully inside the image."""
    sides = rng.integers(MIN_SIDE, MAX_SIDE + 1, size=n)
    x0 = rng.integers(0, IMAGE_SIZE - sides + 1)
    y0 = rng.integers(0, IMAGE_SIZE - sides + 1)
    return np.stack([x0, y0, x0 + sides, y0 + sides], axis=1)


def contrasting_colours(rng: np.random.Generator, backgrounds: np.ndarray) -> np.ndarray:
    """`(n, 3)` random colours at least 80 (mean abs RGB) away from each background."""
    colours = rng.integers(0, 256, size=backgrounds.shape)
    while True:
        too_close = np.abs(colours - backgrounds).mean(axis=1) < MIN_COLOUR_DISTANCE
        if not too_close.any():
            return colours
        colours[too_close] = rng.integers(0, 256, size=(int(too_close.sum()), 3))


def noisy_backgrounds(rng: np.random.Generator, backgrounds: np.ndarray) -> np.ndarray:
    """`(n, 64, 64, 3)` uint8: each background colour plus clipped Gaussian noise."""
    images = np.empty((len(backgrounds), IMAGE_SIZE, IMAGE_SIZE, 3), dtype=np.uint8)
    for start in range(0, len(backgrounds), CHUNK):
        colour = backgrounds[start : start + CHUNK, None, None, :].astype(np.float32)
        pixels = rng.standard_normal((len(colour), IMAGE_SIZE, IMAGE_SIZE, 3), np.float32)
        # In-place arithmetic: this loop dominates the generator's run time.
        pixels *= NOISE_SIGMA
        pixels += colour
        np.clip(pixels, 0, 255, out=pixels)
        images[start : start + CHUNK] = np.rint(pixels, out=pixels)
    return images


def paint_shapes(
    images: np.ndarray, labels: np.ndarray, boxes: np.ndarray, colours: np.ndarray
) -> None:
    """Paint shape `labels[i]` in `colours[i]` into `boxes[i]` of `images[i]`, in place."""
    for image, label, (x0, y0, x1, y1), colour in zip(images, labels, boxes, colours, strict=True):
        image[y0:y1, x0:x1][shape_mask(int(label), int(x1 - x0))] = colour


def make_shapes(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` one-shape images: uint8 `(n, 64, 64, 3)`, int labels `(n,)`, boxes `(n, 4)`."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(LABELS), size=n)
    boxes = random_boxes(rng, n)
    backgrounds = rng.integers(0, 256, size=(n, 3))
    colours = contrasting_colours(rng, backgrounds)
    images = noisy_backgrounds(rng, backgrounds)
    paint_shapes(images, labels, boxes, colours)
    return images, labels, boxes


def boxes_overlap(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Row-wise: do the inclusive-exclusive boxes `first[i]` and `second[i]` intersect?"""
    apart_x = (first[:, 2] <= second[:, 0]) | (second[:, 2] <= first[:, 0])
    apart_y = (first[:, 3] <= second[:, 1]) | (second[:, 3] <= first[:, 1])
    return ~(apart_x | apart_y)


def disjoint_box_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    """`(n, 2, 4)` box pairs that do not overlap (rejection sampling of the second box)."""
    first, second = random_boxes(rng, n), random_boxes(rng, n)
    while (clash := boxes_overlap(first, second)).any():
        second[clash] = random_boxes(rng, int(clash.sum()))
    return np.stack([first, second], axis=1)


def different_label_pairs(rng: np.random.Generator, n: int) -> np.ndarray:
    """`(n, 2)` labels, the two in each row different and uniformly chosen."""
    first = rng.integers(0, len(LABELS), size=n)
    offset = rng.integers(1, len(LABELS), size=n)
    return np.stack([first, (first + offset) % len(LABELS)], axis=1)


def make_two_objects(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` two-shape images: uint8 images, labels `(n, 2)` (different), boxes `(n, 2, 4)`.

    The two boxes never overlap; each shape has its own colour, both far from the
    background.
    """
    rng = np.random.default_rng(seed)
    labels = different_label_pairs(rng, n)
    boxes = disjoint_box_pairs(rng, n)
    backgrounds = rng.integers(0, 256, size=(n, 3))
    colours = [contrasting_colours(rng, backgrounds) for _ in range(2)]
    images = noisy_backgrounds(rng, backgrounds)
    for slot in range(2):
        paint_shapes(images, labels[:, slot], boxes[:, slot], colours[slot])
    return images, labels, boxes
