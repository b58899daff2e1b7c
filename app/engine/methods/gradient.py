"""Gradient methods: one forward + backward, then a weighting of activations by gradients.

Each function maps activations and gradients `(B, *spatial, K)` (float32) to a raw map
`(B, *spatial)`. Definitions: /shared/reference/cam-methods.md (Grad-CAM's family).
"""

from __future__ import annotations

import tensorflow as tf

from app.engine.methods.cam import channel_weights, spatial_axes, weighted_map
from app.engine.methods.eigen import first_component

# Keeps x-gradcam's per-channel normaliser finite on all-zero channels.
EPSILON = 1e-7


def gradcam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`sum_k w_k A_k`, `w_k = mean_s g_sk` (Selvaraju et al. 2017)."""
    return weighted_map(activations, channel_weights(gradients))


def gradcam_plus_plus(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`w_k = sum_s alpha_sk relu(g_sk)`, `alpha = g^2 / (2 g^2 + (sum_s A_sk) g^3)`, 0 where
    the denominator is 0, no normalisation of alpha per channel. pytorch-grad-cam instead
    adds 1e-6 to the denominator (docs/methods.md measures the difference)."""
    return weighted_map(activations, gradcam_plus_plus_weights(activations, gradients))


def gradcam_plus_plus_weights(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """Grad-CAM++'s `w_k`, `(B, K)`."""
    squared = tf.square(gradients)
    activation_sums = tf.reduce_sum(activations, axis=spatial_axes(activations), keepdims=True)
    denominator = 2.0 * squared + activation_sums * squared * gradients
    alpha = tf.math.divide_no_nan(squared, denominator)
    return tf.reduce_sum(alpha * tf.nn.relu(gradients), axis=spatial_axes(gradients))


def xgradcam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`w_k = sum_s g_sk A_sk / (sum_s A_sk + 1e-7)` (Fu et al. 2020)."""
    return weighted_map(activations, xgradcam_weights(activations, gradients))


def xgradcam_weights(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """XGrad-CAM's `w_k`, `(B, K)`."""
    axes = spatial_axes(activations)
    return tf.reduce_sum(gradients * activations, axis=axes) / (
        tf.reduce_sum(activations, axis=axes) + EPSILON
    )


def hirescam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`sum_k g_sk A_sk`: the gradient per position, not averaged (Draelos & Carin 2020)."""
    return tf.reduce_sum(gradients * activations, axis=-1)


def gradcam_elementwise(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`sum_k relu(g_sk A_sk)` (pytorch-grad-cam's GradCAMElementWise)."""
    return tf.reduce_sum(tf.nn.relu(gradients * activations), axis=-1)


def layercam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`sum_k relu(g_sk) A_sk` (Jiang et al. 2021)."""
    return tf.reduce_sum(tf.nn.relu(gradients) * activations, axis=-1)


def eigengradcam(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """The first principal component of `g * A` over the positions."""
    return first_component(gradients * activations)
