"""Eigen-CAM: the first principal component of the activations, a class-agnostic map."""

from __future__ import annotations

import tensorflow as tf


def first_component(features: tf.Tensor) -> tf.Tensor:
    """Projection of `features` `(B, *spatial, K)` on its first principal direction.

    Per sample: reshape to `(positions, K)`, subtract the mean over positions, take the
    first right singular vector and project on it; the sign is flipped so that the map's
    sum is >= 0 (a singular vector's sign is arbitrary). Returns `(B, *spatial)`.
    """
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[-1]])
    centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
    _, _, right = tf.linalg.svd(centred, full_matrices=False)
    projection = tf.einsum("bpk,bk->bp", centred, right[:, :, 0])
    sign = tf.where(tf.reduce_sum(projection, axis=1, keepdims=True) < 0, -1.0, 1.0)
    return tf.reshape(projection * sign, shape[:-1])


def eigencam(activations: tf.Tensor, gradients: tf.Tensor | None = None) -> tf.Tensor:
    """The first principal component of `A`; the gradients are not used."""
    return first_component(activations)
