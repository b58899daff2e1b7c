"""Heads: each turns a model's outputs and a target row into one scalar score per row.

Every method and faithfulness score differentiates or evaluates `Head.score`, so each
works on every head. `outputs` / `logits` map output names to per-row tensors (the
logit of an output is the input of its final softmax / sigmoid, else the output); the
score is of the logits when `use_logit`, else of the outputs (probabilities):

- classifier, multilabel: the class's (label's) logit, `BinaryClassifierOutputTarget` /
  `ClassifierOutputTarget` in pytorch-grad-cam;
- regression: the value at the index (its output is linear: logit = output);
- segmentation: `sum_{p in region} logit[p, k]` over the output's grid (N, h, w, C),
  pytorch-grad-cam's `SemanticSegmentationTarget`;
- detection: `logit[j, k]` of the predicted box j that best overlaps the row's box
  (IoU), or of the anchored box; cf. pytorch-grad-cam's `FasterRCNNBoxScoreTarget`,
  which sums the scores of every matching box instead of taking the best one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from app.engine.targets.boxes import iou, to_xyxy

Tensors = Mapping[str, tf.Tensor]


@dataclass(frozen=True)
class RowTensors:
    """The rows of `TargetRows` as tensors (no `sample`: the rows' inputs are aligned)."""

    target: tf.Tensor  # (N,) int32, -1: top
    region: tf.Tensor  # (N, P) float32, a row of -1: the predicted pixels
    box: tf.Tensor  # (N, 4) float32 xyxy in [0, 1]
    anchor: tf.Tensor  # (N,) int32, -1: match `box`


@dataclass(frozen=True)
class Scored:
    """Per row: `score` (N,) the differentiated score, `value` (N,) the same score of the
    outputs (probabilities), `target` (N,) resolved, `anchor` (N,) the box used (-1 when
    none), `quality` (N,) the region's pixels or the box's IoU (1 otherwise), `region`
    (N, P) resolved (zeros for heads without one)."""

    score: tf.Tensor
    value: tf.Tensor
    target: tf.Tensor
    anchor: tf.Tensor
    quality: tf.Tensor
    region: tf.Tensor

    def resolved(self, rows: RowTensors) -> RowTensors:
        """The rows with every choice made here fixed (for the same score elsewhere)."""
        return RowTensors(self.target, self.region, rows.box, self.anchor)


@dataclass(frozen=True)
class Head:
    """What an output means. `output`: the explained output's name (detection: the scores);
    `reads`: every output the score needs."""

    kind: str
    output: str
    n_classes: int
    grid: tuple[int, ...] = ()  # segmentation: the output's (h', w')

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.output,)

    @property
    def region_size(self) -> int:
        size = 1
        for dim in self.grid:
            size *= dim
        return size

    def summary(self, outputs: Mapping[str, np.ndarray]) -> np.ndarray:
        """One score per class `(B, n)` for the answer's predictions: the output itself;
        segmentation: each class's mean probability over the grid; detection: its best
        box's probability."""
        out = np.asarray(outputs[self.output])
        if self.kind == "segmentation":
            return np.asarray(out.reshape(len(out), -1, out.shape[-1]).mean(axis=1))
        return np.asarray(out.max(axis=1)) if self.kind == "detection" else out

    def score(
        self, outputs: Tensors, logits: Tensors, rows: RowTensors, use_logit: tf.Tensor
    ) -> Scored:
        out, logit = outputs[self.output], logits[self.output]  # (N, C)
        top = (
            tf.argmax(out, axis=-1, output_type=tf.int32)
            if self.kind != "regression"
            else tf.zeros_like(rows.target)
        )
        target = tf.where(rows.target < 0, top, rows.target)
        value = tf.gather(out, target, axis=1, batch_dims=1)
        score = tf.gather(tf.where(use_logit, logit, out), target, axis=1, batch_dims=1)
        none = -tf.ones_like(target)
        return Scored(score, value, target, none, tf.ones_like(value), tf.zeros_like(rows.region))


@dataclass(frozen=True)
class SegmentationHead(Head):
    def score(
        self, outputs: Tensors, logits: Tensors, rows: RowTensors, use_logit: tf.Tensor
    ) -> Scored:
        out = flat_grid(outputs[self.output])  # (N, P, C)
        logit = flat_grid(logits[self.output])
        labels = tf.argmax(out, axis=-1, output_type=tf.int32)  # (N, P)
        counts = tf.reduce_sum(tf.one_hot(labels, self.n_classes), axis=1)
        top = tf.argmax(counts, axis=-1, output_type=tf.int32)
        target = tf.where(rows.target < 0, top, rows.target)
        predicted = tf.cast(labels == target[:, None], tf.float32)
        region = tf.where(rows.region[:, :1] < 0, predicted, rows.region)
        # The class's channel by a one-hot product, not a batched gather: for finite outputs
        # the same values (one non-zero term per sum), and a far smaller gradient graph.
        channel = tf.one_hot(target, self.n_classes)[:, None, :]  # (N, 1, C)
        per_output = tf.reduce_sum(out * channel, axis=2)  # (N, P)
        per_score = tf.where(use_logit, tf.reduce_sum(logit * channel, axis=2), per_output)
        return Scored(
            tf.reduce_sum(per_score * region, axis=1), tf.reduce_sum(per_output * region, axis=1),
            target, -tf.ones_like(target), tf.reduce_sum(region, axis=1), region,
        )  # fmt: skip


@dataclass(frozen=True)
class DetectionHead(Head):
    boxes_output: str = "boxes"
    box_format: str = "xyxy"
    box_scale: tuple[float, float] = (1.0, 1.0)  # (W, H) of the model input for pixel boxes
    score_threshold: float = 0.5
    iou_threshold: float = 0.5

    @property
    def reads(self) -> tuple[str, ...]:
        return (self.boxes_output, self.output)

    def boxes(self, outputs: Tensors) -> tf.Tensor:
        """The predicted boxes `(N, M, 4)` as xyxy normalised to the model input."""
        width, height = self.box_scale
        return to_xyxy(outputs[self.boxes_output], self.box_format) / [width, height, width, height]

    def score(
        self, outputs: Tensors, logits: Tensors, rows: RowTensors, use_logit: tf.Tensor
    ) -> Scored:
        out, logit = outputs[self.output], logits[self.output]  # (N, M, C)
        overlaps = iou(self.boxes(outputs), rows.box)  # (N, M)
        best = tf.argmax(overlaps, axis=-1, output_type=tf.int32)
        anchor = tf.where(rows.anchor < 0, best, rows.anchor)
        quality = tf.gather(overlaps, anchor, axis=1, batch_dims=1)
        quality = tf.where(rows.anchor < 0, quality, tf.ones_like(quality))
        box_scores = tf.gather(out, anchor, axis=1, batch_dims=1)  # (N, C)
        top = tf.argmax(box_scores, axis=-1, output_type=tf.int32)
        target = tf.where(rows.target < 0, top, rows.target)
        index = tf.stack([tf.range(tf.shape(anchor)[0]), anchor, target], axis=1)
        return Scored(
            tf.gather_nd(tf.where(use_logit, logit, out), index), tf.gather_nd(out, index),
            target, anchor, quality, tf.zeros_like(rows.region),
        )  # fmt: skip


def flat_grid(values: tf.Tensor) -> tf.Tensor:
    """`(N, *grid, C)` -> `(N, P, C)`."""
    return tf.reshape(tf.cast(values, tf.float32), [tf.shape(values)[0], -1, tf.shape(values)[-1]])


def step_results(
    heatmaps: tf.Tensor, scales: tf.Tensor, raw: tf.Tensor, outputs: Tensors, scored: Scored
) -> dict[str, object]:
    """What a compiled step returns: the maps, every output per row, the scored rows."""
    return {
        "heatmaps": heatmaps,
        "scales": scales,
        "raw": raw,
        "outputs": dict(outputs),
        "target": scored.target,
        "value": scored.value,
        "anchor": scored.anchor,
        "quality": scored.quality,
        "region": scored.region,
    }
