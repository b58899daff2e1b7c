"""Default targets of a head (no targets in the request) and the detections it reports.

- classifier: the top class (resolved inside the compiled step);
- multilabel: the labels with p >= 0.5, or the top label when none is;
- regression: every value of the output;
- segmentation: the classes predicted on at least one pixel (class 0, conventionally the
  background, only when nothing else is), each with its predicted region;
- detection: the detections after non-maximum suppression, each anchored to its box.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from app.engine.targets.boxes import nms
from app.engine.targets.heads import DetectionHead, Head
from app.engine.targets.rows import TOP, Target

MULTILABEL_THRESHOLD = 0.5


@dataclass(frozen=True)
class Detection:
    anchor: int  # index of the predicted box
    cls: int
    score: float  # the class probability
    box: tuple[float, float, float, float]  # xyxy normalised to the model input


def needs_outputs(head: Head) -> bool:
    """Whether the default targets depend on the outputs (a forward pass first)."""
    return head.kind in ("multilabel", "segmentation", "detection")


def default_targets(
    head: Head, outputs: Mapping[str, np.ndarray], n_samples: int
) -> list[list[Target]]:
    """Per sample, its default targets; `outputs` (B, ...) by name when `needs_outputs`."""
    if head.kind == "regression":
        return [[Target(k) for k in range(head.n_classes)] for _ in range(n_samples)]
    if head.kind == "classifier":
        return [[Target(TOP)] for _ in range(n_samples)]
    out = np.asarray(outputs[head.output])
    if head.kind == "multilabel":
        return [
            [Target(int(k)) for k in np.flatnonzero(p >= MULTILABEL_THRESHOLD)]
            or [Target(int(p.argmax()))]
            for p in out
        ]
    if head.kind == "segmentation":
        return [[Target(int(k)) for k in present_classes(p.argmax(axis=-1))] for p in out]
    assert isinstance(head, DetectionHead)
    found = detections(head, outputs)
    return [
        [Target(d.cls, box=d.box, anchor=d.anchor) for d in per_sample]
        or [Target(TOP, anchor=best_box(out[b]))]
        for b, per_sample in enumerate(found)
    ]


def present_classes(labels: np.ndarray) -> list[int]:
    present = [int(k) for k in np.unique(labels)]
    return [k for k in present if k != 0] or present


def best_box(scores: np.ndarray) -> int:
    return int(scores.max(axis=-1).argmax())


def detections(head: DetectionHead, outputs: Mapping[str, np.ndarray]) -> list[list[Detection]]:
    """Per sample, its boxes with class score >= the threshold after per-class NMS."""
    boxes = np.asarray(head.boxes(outputs))  # (B, M, 4) normalised xyxy
    scores = np.asarray(outputs[head.output])  # (B, M, C)
    found = []
    for sample_boxes, sample_scores in zip(boxes, scores, strict=True):
        classes, best = sample_scores.argmax(axis=-1), sample_scores.max(axis=-1)
        candidates = np.flatnonzero(best >= head.score_threshold)
        kept = nms(
            sample_boxes[candidates], best[candidates], classes[candidates], head.iou_threshold
        )
        found.append([detection(j, classes, best, sample_boxes) for j in candidates[kept]])
    return found


def detection(j: int, classes: np.ndarray, best: np.ndarray, boxes: np.ndarray) -> Detection:
    x0, y0, x1, y1 = (float(v) for v in boxes[j])
    return Detection(int(j), int(classes[j]), float(best[j]), (x0, y0, x1, y1))
