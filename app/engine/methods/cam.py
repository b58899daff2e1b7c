"""Grad-CAM math on captured activations and gradients.

Shapes: activations and gradients are `(B, *spatial, C)`: `(B, H, W, C)` for images,
`(B, T, C)` for text. Reducing over `range(1, ndim - 1)` lets both share one path.
The other CAM methods live in `app.engine.methods` and reuse these helpers.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

# Added to the scale before dividing so an all-zero map stays zero instead of NaN.
EPSILON = 1e-7


def spatial_axes(tensor: tf.Tensor) -> list[int]:
    """Every axis except batch (first) and channel (last)."""
    return list(range(1, len(tensor.shape) - 1))


def channel_weights(gradients: tf.Tensor) -> tf.Tensor:
    """Grad-CAM weights: the gradient mean over the spatial axes, `(B, C)`."""
    return tf.reduce_mean(gradients, axis=spatial_axes(gradients))


def weighted_map(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """`sum_c weights[b, c] * activations[b, ..., c]`, shape `(B, *spatial)`."""
    return tf.einsum("b...c,bc->b...", activations, weights)


def method_map(
    raw_map: Callable[[tf.Tensor, tf.Tensor], tf.Tensor],
    activations: tf.Tensor,
    gradients: tf.Tensor,
    relu: tf.Tensor,
    counterfactual: tf.Tensor,
) -> tf.Tensor:
    """`raw_map`'s map `(B, *spatial)`; negated gradients when counterfactual, ReLU when relu."""
    gradients = tf.where(counterfactual, -gradients, gradients)
    cam = raw_map(activations, gradients)
    return tf.where(relu, tf.nn.relu(cam), cam)


def gradcam_map(
    activations: tf.Tensor, gradients: tf.Tensor, relu: tf.Tensor, counterfactual: tf.Tensor
) -> tf.Tensor:
    """Raw Grad-CAM `(B, *spatial)`: `sum_c mean_s(g) A_c`, then as `method_map`."""

    def gradcam(a: tf.Tensor, g: tf.Tensor) -> tf.Tensor:
        return weighted_map(a, channel_weights(g))

    return method_map(gradcam, activations, gradients, relu, counterfactual)


def normalise(cam: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Heatmap `cam / (max|cam| + EPSILON)` per sample and its scale `max|cam|`, `(B,)`.

    Values are in [0, 1] after ReLU and in [-1, 1] without; `heatmap * (scale + EPSILON)`
    recovers the raw map.
    """
    scale = tf.reduce_max(tf.abs(cam), axis=list(range(1, len(cam.shape))))
    broadcastable = tf.reshape(scale, [-1] + [1] * (len(cam.shape) - 1))
    return cam / (broadcastable + EPSILON), scale
