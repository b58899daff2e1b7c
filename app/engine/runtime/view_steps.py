"""A `GradCam`'s maps at the input's resolution: the views of `aug_smooth` and the
layers of a layer list (`app.engine.runtime.views`), every view scored by the head.

Each row's choices are made on the view that is the input itself: its class, its region
(the mask, or the pixels predicted as the class) and its predicted box. A flipped view
explains the same thing mirrored: the region flipped on the output's grid, and the
predicted box mirrored and matched again by IoU (a detector's box index in a flipped
image need not be the same object's). The brightness factors move nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Outputs
from app.engine.methods import cam as cam_math
from app.engine.methods.perturbation import combine_channels
from app.engine.runtime.views import (
    augment,
    combine_views,
    identity_view,
    views_at_input,
)
from app.engine.targets.heads import DetectionHead, Head, RowTensors, Scored, step_results
from app.engine.targets.results import CamBatch, step_batch
from app.engine.targets.rows import TargetRows

Views = tuple[tuple[bool, float], ...]
Flags = tuple[bool, bool, bool]  # relu, counterfactual, use_logit


class GradCam(Protocol):
    """What these steps use of `app.engine.runtime.gradcam.GradCam` (no import cycle)."""

    head: Head
    views: Views
    device: str | None
    method: Any
    options: Any
    perturbation: Any
    step: Callable[..., Any]

    @property
    def more(self) -> Sequence[GradCam]: ...

    def method_score(
        self, outputs: Outputs, logits: Outputs, scored: Scored, use_logit: tf.Tensor
    ) -> tf.Tensor: ...

    def raw_maps(
        self, inputs: tf.Tensor, score_of: Any, relu: tf.Tensor, counterfactual: tf.Tensor
    ) -> tuple[tf.Tensor, Outputs]: ...


def mirrored_rows(head: Head, outputs: Outputs, rows: RowTensors, flip: bool) -> RowTensors:
    """`rows` (resolved on the plain view) as a view flipped left-right sees them."""
    if not flip:
        return rows
    region, box, anchor = rows.region, rows.box, rows.anchor
    if head.grid:
        height, width = head.grid
        grid = tf.reshape(region, [-1, height, width])
        region = tf.reshape(tf.reverse(grid, axis=[2]), [-1, height * width])
    if isinstance(head, DetectionHead):
        predicted = tf.gather(head.boxes(outputs), anchor, axis=1, batch_dims=1)  # (N, 4)
        x0, y0, x1, y1 = tf.unstack(predicted, axis=1)
        box = tf.stack([1.0 - x1, y0, 1.0 - x0, y1], axis=1)
        anchor = -tf.ones_like(anchor)
    return RowTensors(rows.target, region, box, anchor)


def view_rows(
    head: Head,
    outputs: Outputs,
    logits: Outputs,
    rows: RowTensors,
    use_logit: tf.Tensor,
    views: Views,
) -> tuple[Scored, RowTensors]:
    """(the N rows scored on the plain view, the V * N rows of every view, view-major);
    `outputs` / `logits` hold V * N rows, view-major."""
    count = tf.shape(rows.target)[0]
    first = identity_view(views) * count

    def plain(values: Outputs) -> Outputs:
        return {name: value[first : first + count] for name, value in values.items()}

    scored = head.score(plain(outputs), plain(logits), rows, use_logit)
    fixed = scored.resolved(rows)
    per_view = [mirrored_rows(head, plain(outputs), fixed, flip) for flip, _ in views]
    return scored, RowTensors(
        *(
            tf.concat([getattr(view, field) for view in per_view], axis=0)
            for field in ("target", "region", "box", "anchor")
        )
    )


def views_step(
    cam: GradCam,
    inputs: tf.Tensor,
    targets: tf.Tensor,
    regions: tf.Tensor,
    boxes: tf.Tensor,
    anchors: tf.Tensor,
    relu: tf.Tensor,
    counterfactual: tf.Tensor,
    use_logit: tf.Tensor,
) -> dict[str, object]:
    """The compiled step: the maps of every view `(V, N, H, W)` as `heatmaps` and `raw`;
    outputs and scored rows of the plain view."""
    views, rows = cam.views, RowTensors(targets, regions, boxes, anchors)
    found: dict[str, Any] = {}

    def score_of(outputs: Outputs, logits: Outputs) -> tf.Tensor:
        found["plain"], every = view_rows(cam.head, outputs, logits, rows, use_logit, views)
        scored = cam.head.score(outputs, logits, every, use_logit)
        return cam.method_score(outputs, logits, scored, use_logit)

    raw, outputs = cam.raw_maps(augment(inputs, views), score_of, relu, counterfactual)
    maps = views_at_input(raw, tf.shape(inputs)[1:3], views)
    count = tf.shape(inputs)[0]
    first = identity_view(views) * count
    plain = {name: value[first : first + count] for name, value in outputs.items()}
    return step_results(maps, tf.zeros([count]), maps, plain, found["plain"])


def explain_at_input(
    cam: GradCam, inputs: np.ndarray, rows: TargetRows, flags: Flags, max_channels: int
) -> CamBatch:
    """Maps at the input's resolution, combined over views and layers; every further
    layer explains the rows as the first resolved them."""
    maps, cams = view_maps(cam, inputs, rows, flags, max_channels)
    assert cams.anchors is not None and cams.regions is not None
    resolved = TargetRows(rows.sample, cams.targets, cams.regions, rows.box, cams.anchors)
    per_layer = [maps]
    for more in cam.more:
        per_layer.append(view_maps(more, inputs, resolved, flags, max_channels)[0])
    combined = combine_views(per_layer)
    scales = combined.reshape(len(combined), -1).max(axis=1)
    heatmaps = combined / (scales.reshape(-1, 1, 1) + cam_math.EPSILON)
    return replace(cams, cams=combined, heatmaps=heatmaps.astype(np.float32), scales=scales)


def view_maps(
    cam: GradCam, inputs: np.ndarray, rows: TargetRows, flags: Flags, max_channels: int
) -> tuple[np.ndarray, CamBatch]:
    """This layer's maps of every view `(V, N, H, W)` and the plain view's rows."""
    if cam.perturbation is not None:
        return perturbation_views(cam, inputs, rows, flags, max_channels)
    relu, counterfactual, use_logit = flags
    with tf.device(cam.device):
        found = cam.step(
            inputs[rows.sample], rows.target, rows.region, rows.box, rows.anchor, relu,
            counterfactual, use_logit,
        )  # fmt: skip
    maps = np.asarray(found["raw"])
    return maps, step_batch([found], rows.sample, len(inputs), cam.head)


def perturbation_views(
    cam: GradCam, inputs: np.ndarray, rows: TargetRows, flags: Flags, max_channels: int
) -> tuple[np.ndarray, CamBatch]:
    """Score-CAM / Ablation-CAM on every view of the B inputs (one run)."""
    assert cam.perturbation is not None and cam.method.weights is not None
    relu, _, use_logit = flags
    views, count = cam.views, len(inputs)
    with tf.device(cam.device):
        augmented = augment(tf.constant(inputs), views).numpy()
        channel_scores = cam.perturbation.run(augmented, max_channels)
    view_sample = np.concatenate([rows.sample + index * count for index in range(len(views))])

    def gathered(values: dict[str, np.ndarray]) -> Outputs:
        return {name: tf.constant(value[view_sample]) for name, value in values.items()}

    wanted = RowTensors(
        *(tf.constant(v) for v in (rows.target, rows.region, rows.box, rows.anchor))
    )
    plain, every = view_rows(
        cam.head, gathered(channel_scores.outputs), gathered(channel_scores.logits), wanted,
        tf.constant(use_logit), views,
    )  # fmt: skip
    view_targets = TargetRows(
        view_sample, *(np.asarray(v) for v in (every.target, every.region, every.box, every.anchor))
    )
    cams = combine_channels(
        channel_scores, cam.method.weights, view_targets, relu, use_logit, cam.head,
        smooth=cam.options.eigen_smooth,
    )  # fmt: skip
    maps = views_at_input(tf.constant(cams.cams), tf.constant(inputs.shape[1:3]), views)
    first = identity_view(views) * count
    outputs = {name: value[first + rows.sample] for name, value in channel_scores.outputs.items()}
    placeholder = np.zeros(len(rows), np.float32)  # the maps: combined by the caller
    found = step_results(placeholder, placeholder, placeholder, outputs, plain)
    return maps.numpy(), step_batch([found], rows.sample, count, cam.head)
