"""FEM, the Feature Explanation Method (Fuad et al. 2020), as pytorch-grad-cam 1.5.7's
`FEM`: gradient-free and class-agnostic."""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

from app.engine.methods.cam import spatial_axes, weighted_map


def fem(k: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The raw map `(B, *spatial)` of activations `(B, *spatial, K)`: `sum_k w_k A_k`,
    `w_k` = the fraction of positions where `A_k > mean_s(A_k) + k std_s(A_k)` (the
    k-sigma rule; std without Bessel's correction, as numpy). Gradients are unused."""

    def raw_map(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
        axes = spatial_axes(activations)
        mean = tf.reduce_mean(activations, axis=axes, keepdims=True)
        std = tf.math.reduce_std(activations, axis=axes, keepdims=True)
        above = tf.cast(activations > mean + k * std, activations.dtype)
        return weighted_map(activations, tf.reduce_mean(above, axis=axes))

    return raw_map
