"""Scenes of 1-3 shapes for `shapes_seg` and `shapes_det`, with masks and boxes.

Spec (the `shapes` spec of `training/shapes_data.py`, several shapes per image):

- 64x64 RGB uint8; one uniform random background colour per image plus Gaussian pixel
  noise (sigma 8, clipped to 0..255).
- 1..3 shapes per scene (the count uniform over `counts`), each drawn exactly as in
  `shapes`: bounding-box side 14..30 px, fully inside the image, its own colour at least
  80 away from the background (mean absolute RGB difference).
- The boxes of a scene never overlap (so masks never overlap either).
- Classes are uniform over `LABELS`, repeats allowed; `distinct=True` makes the classes
  of a scene all different (the two-object pointing figures use it).

`masks[i, y, x]` is 0 for background and `class + 1` on a shape's pixels. Boxes are
`(x0, y0, x1, y1)` inclusive-exclusive as in `shapes`; unused slots (scenes with fewer
shapes than `MAX_SHAPES`) hold class -1 and box 0, 0, 0, 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.shapes_data import (
    IMAGE_SIZE,
    LABELS,
    boxes_overlap,
    contrasting_colours,
    noisy_backgrounds,
    paint_shapes,
    random_boxes,
    shape_mask,
)

MAX_SHAPES = 3


@dataclass(frozen=True)
class Scenes:
    images: np.ndarray  # (n, 64, 64, 3) uint8
    masks: np.ndarray  # (n, 64, 64) uint8, 0 = background, class + 1 on a shape
    boxes: np.ndarray  # (n, MAX_SHAPES, 4) int, (x0, y0, x1, y1); zeros in unused slots
    classes: np.ndarray  # (n, MAX_SHAPES) int, -1 in unused slots
    counts: np.ndarray  # (n,) int, shapes per scene

    def __len__(self) -> int:
        return len(self.images)

    def objects(self, scene: int) -> list[tuple[int, np.ndarray]]:
        """[(class, box)] of the shapes of one scene."""
        count = int(self.counts[scene])
        return [
            (int(k), box)
            for k, box in zip(self.classes[scene, :count], self.boxes[scene, :count], strict=True)
        ]


def disjoint_boxes(rng: np.random.Generator, counts: np.ndarray) -> np.ndarray:
    """`(n, MAX_SHAPES, 4)` boxes, the first `counts[i]` of scene i pairwise disjoint.

    Whole scenes are redrawn until none clashes: three boxes of side 30 always fit in
    64x64, and about one scene in five succeeds per draw, so few rounds are needed.
    """
    n = len(counts)
    boxes = np.stack([random_boxes(rng, n) for _ in range(MAX_SHAPES)], axis=1)
    while (clash := clashing_scenes(boxes, counts)).any():
        redrawn = np.stack([random_boxes(rng, int(clash.sum())) for _ in range(MAX_SHAPES)], axis=1)
        boxes[clash] = redrawn
    slots = np.arange(MAX_SHAPES)[None, :]
    boxes[slots >= counts[:, None]] = 0
    return boxes


def clashing_scenes(boxes: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """(n,) bool: two of the used boxes of the scene overlap."""
    clash = np.zeros(len(boxes), dtype=bool)
    for first in range(MAX_SHAPES):
        for second in range(first + 1, MAX_SHAPES):
            both_used = counts > second
            clash |= both_used & boxes_overlap(boxes[:, first], boxes[:, second])
    return clash


def scene_classes(rng: np.random.Generator, counts: np.ndarray, distinct: bool) -> np.ndarray:
    """`(n, MAX_SHAPES)` classes, -1 in unused slots; all different per scene if `distinct`."""
    n = len(counts)
    if distinct:
        classes = np.argsort(rng.random((n, len(LABELS))), axis=1)[:, :MAX_SHAPES]
    else:
        classes = rng.integers(0, len(LABELS), size=(n, MAX_SHAPES))
    classes[np.arange(MAX_SHAPES)[None, :] >= counts[:, None]] = -1
    return classes


def paint_masks(classes: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """`(n, 64, 64)` uint8 class-plus-one masks of the used slots."""
    masks = np.zeros((len(classes), IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for mask, scene_classes_, scene_boxes in zip(masks, classes, boxes, strict=True):
        for label, (x0, y0, x1, y1) in zip(scene_classes_, scene_boxes, strict=True):
            if label >= 0:
                mask[y0:y1, x0:x1][shape_mask(int(label), int(x1 - x0))] = label + 1
    return masks


def make_scenes(
    n: int, seed: int, counts: tuple[int, ...] = (1, 2, 3), distinct: bool = False
) -> Scenes:
    """`n` scenes; each scene's shape count uniform over `counts` (within 1..MAX_SHAPES)."""
    rng = np.random.default_rng(seed)
    shape_counts = rng.choice(np.asarray(counts), size=n)
    classes = scene_classes(rng, shape_counts, distinct)
    boxes = disjoint_boxes(rng, shape_counts)
    backgrounds = rng.integers(0, 256, size=(n, 3))
    colours = [contrasting_colours(rng, backgrounds) for _ in range(MAX_SHAPES)]
    images = noisy_backgrounds(rng, backgrounds)
    for slot in range(MAX_SHAPES):
        used = shape_counts > slot
        painted = images[used]
        paint_shapes(painted, classes[used, slot], boxes[used, slot], colours[slot][used])
        images[used] = painted
    return Scenes(images, paint_masks(classes, boxes), boxes, classes, shape_counts)
