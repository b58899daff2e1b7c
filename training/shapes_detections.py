"""`shapes_det`'s grid, its training targets, and how its outputs become detections.

The model predicts one candidate box per cell of a GRID x GRID grid (N = 64 boxes):
`boxes` (N, 4) = (cx, cy, w, h) normalised to the 64x64 input, `scores` (N, 4) the
per-class probabilities (sigmoid, before any suppression). The cell that contains a
shape's box centre is the one trained to report it (YOLO-style); boxes never overlap
and are at least 14 px wide, so two centres never share a cell.

Detections, as the card's [detection] table says: the boxes whose largest class
probability is >= 0.5, then class-wise non-maximum suppression at IoU 0.5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.shapes_data import IMAGE_SIZE, LABELS
from training.shapes_scenes import Scenes

GRID = 8
CELL = IMAGE_SIZE // GRID
SCORE_THRESHOLD = 0.5
IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Detection:
    box: np.ndarray  # (x0, y0, x1, y1) in input pixels, floats
    label: int
    score: float


def training_targets(scenes: Scenes) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, N, 5): cx, cy, w, h normalised + 1 on responsible cells, scores (n, N, 4))."""
    n = len(scenes)
    boxes = np.zeros((n, GRID * GRID, 5), dtype=np.float32)
    scores = np.zeros((n, GRID * GRID, len(LABELS)), dtype=np.float32)
    for scene in range(n):
        for label, (x0, y0, x1, y1) in scenes.objects(scene):
            cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
            cell = responsible_cell(cx, cy)
            boxes[scene, cell] = [
                cx / IMAGE_SIZE,
                cy / IMAGE_SIZE,
                (x1 - x0) / IMAGE_SIZE,
                (y1 - y0) / IMAGE_SIZE,
                1,
            ]
            scores[scene, cell, label] = 1
    return boxes, scores


def responsible_cell(cx: float, cy: float) -> int:
    """Index in 0..N-1 (row-major) of the cell that contains the point (cx, cy) in pixels."""
    column = min(int(cx // CELL), GRID - 1)
    row = min(int(cy // CELL), GRID - 1)
    return row * GRID + column


def grid_offsets() -> np.ndarray:
    """(GRID, GRID, 4) pre-sigmoid offsets: a zero raw output decodes to the cell's centre
    and a 22 px box (the mean side), so each cell only learns a small correction."""
    centres = (np.arange(GRID) + 0.5) / GRID
    offsets = np.empty((GRID, GRID, 4), dtype=np.float32)
    offsets[..., 0] = logit(centres)[None, :]
    offsets[..., 1] = logit(centres)[:, None]
    offsets[..., 2:] = logit(22 / IMAGE_SIZE)
    return offsets


def logit(p: np.ndarray | float) -> np.ndarray:
    return np.log(p) - np.log1p(-np.asarray(p))


def corners(cxcywh: np.ndarray) -> np.ndarray:
    """(..., 4) normalised (cx, cy, w, h) -> (x0, y0, x1, y1) in input pixels."""
    cx, cy, w, h = np.moveaxis(cxcywh * IMAGE_SIZE, -1, 0)
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=-1)


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one (x0, y0, x1, y1) box with each of `others` (M, 4)."""
    width = np.clip(np.minimum(box[2], others[:, 2]) - np.maximum(box[0], others[:, 0]), 0, None)
    height = np.clip(np.minimum(box[3], others[:, 3]) - np.maximum(box[1], others[:, 1]), 0, None)
    overlap = width * height
    area = (box[2] - box[0]) * (box[3] - box[1])
    other_areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return overlap / np.maximum(area + other_areas - overlap, 1e-9)


def detections(boxes: np.ndarray, scores: np.ndarray) -> list[Detection]:
    """One image's detections from its `boxes` (N, 4) and `scores` (N, 4)."""
    labels, best = scores.argmax(axis=1), scores.max(axis=1)
    kept = []
    for label in range(scores.shape[1]):
        candidates = np.flatnonzero((labels == label) & (best >= SCORE_THRESHOLD))
        candidates = candidates[np.argsort(-best[candidates], kind="stable")]
        pixel_boxes = corners(boxes[candidates])
        while len(candidates):
            kept.append(Detection(pixel_boxes[0], label, float(best[candidates[0]])))
            survivors = iou(pixel_boxes[0], pixel_boxes) < IOU_THRESHOLD
            survivors[0] = False
            candidates, pixel_boxes = candidates[survivors], pixel_boxes[survivors]
    return kept


def match(found: list[Detection], truth: list[tuple[int, np.ndarray]]) -> int:
    """True positives: detections, best score first, each matched to an unmatched true
    object of its class with IoU >= 0.5."""
    unmatched = list(truth)
    hits = 0
    for detection in sorted(found, key=lambda d: -d.score):
        same_class = [
            (i, box) for i, (label, box) in enumerate(unmatched) if label == detection.label
        ]
        if not same_class:
            continue
        overlaps = iou(detection.box, np.array([box for _, box in same_class], dtype=float))
        if overlaps.max() >= IOU_THRESHOLD:
            unmatched.pop(same_class[int(overlaps.argmax())][0])
            hits += 1
    return hits
