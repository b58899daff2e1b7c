"""FinerCAM (Zhang et al. 2025), as pytorch-grad-cam 1.5.7's `FinerCAM` with its default
base method, Grad-CAM: the differentiated score compares the target with the classes
the model scores most similarly (`FinerWeightedTarget`).

Per row, with `y` the scores (logits for `score=logit`, outputs for `score=output`) and
`t` the target: the classes ordered by `|y_c - y_t|` (ascending, stable; the target is
rank 0); `C` the classes at the similarity ranks `comparison` (ranks beyond the class
count are dropped); `p = softmax(y)`; the score
`sum_{c in C} p_c (y_t - alpha y_c) / (sum_{c in C} p_c + 1e-9)`, differentiated through
`p` as well. With no rank left the score is 0 and the map all-zero.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

# (scores (N, n) float32, targets (N,) int32) -> the score differentiated (N,)
TargetScore = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
DENOMINATOR_EPSILON = 1e-9


def finer_score(alpha: float, comparison: tuple[int, ...]) -> TargetScore:
    ranks = tf.constant(comparison, tf.int32)

    def score(scores: tf.Tensor, targets: tf.Tensor) -> tf.Tensor:
        main = tf.gather(scores, targets, axis=1, batch_dims=1)
        order = tf.argsort(tf.abs(scores - main[:, None]), axis=1, stable=True)
        kept = tf.boolean_mask(ranks, ranks < tf.shape(scores)[1])
        classes = tf.gather(order, kept, axis=1)  # (N, r)
        weights = tf.gather(tf.nn.softmax(scores, axis=-1), classes, axis=1, batch_dims=1)
        others = tf.gather(scores, classes, axis=1, batch_dims=1)
        numerator = tf.reduce_sum(weights * (main[:, None] - alpha * others), axis=1)
        return numerator / (tf.reduce_sum(weights, axis=1) + DENOMINATOR_EPSILON)

    return score
