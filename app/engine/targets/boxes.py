"""Box arithmetic for detection heads: formats, intersection over union, NMS."""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


def to_xyxy(boxes: tf.Tensor, box_format: str) -> tf.Tensor:
    """`(..., 4)` boxes in `box_format` -> `(..., 4)` as (x0, y0, x1, y1)."""
    a, b, c, d = tf.unstack(tf.cast(boxes, tf.float32), axis=-1)
    if box_format == "xywh":
        return tf.stack([a, b, a + c, b + d], axis=-1)
    if box_format == "cxcywh":
        return tf.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=-1)
    return tf.stack([a, b, c, d], axis=-1)


def iou(boxes: tf.Tensor, box: tf.Tensor) -> tf.Tensor:
    """IoU of `boxes` `(N, M, 4)` with one `box` `(N, 4)` per row, xyxy -> `(N, M)`;
    0 (not NaN) for empty boxes."""
    box = box[:, None, :]
    low = tf.maximum(boxes[..., :2], box[..., :2])
    high = tf.minimum(boxes[..., 2:], box[..., 2:])
    inter = tf.reduce_prod(tf.maximum(high - low, 0.0), axis=-1)
    union = area(boxes) + area(box) - inter
    return tf.math.divide_no_nan(inter, union)


def area(boxes: tf.Tensor) -> tf.Tensor:
    return tf.reduce_prod(tf.maximum(boxes[..., 2:] - boxes[..., :2], 0.0), axis=-1)


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, threshold: float) -> list[int]:
    """Greedy per-class non-maximum suppression: indices of `boxes` `(M, 4)` xyxy kept,
    highest `scores` first; a box is dropped when it overlaps a kept box of its class
    with IoU > `threshold`."""
    kept: list[int] = []
    for index in np.argsort(-scores, kind="stable"):
        same = [k for k in kept if classes[k] == classes[index]]
        if same:
            overlaps = iou(boxes[None, same].astype(np.float32), boxes[None, index])
            if float(tf.reduce_max(overlaps)) > threshold:
                continue
        kept.append(int(index))
    return kept
