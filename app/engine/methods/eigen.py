"""Eigen-CAM: the first principal component of the activations, a class-agnostic map."""

from __future__ import annotations

import tensorflow as tf


def first_component(features: tf.Tensor) -> tf.Tensor:
    """Projection of `features` `(B, *spatial, K)` on its first principal direction.

    Per sample: reshape to `(positions, K)`, subtract the mean over positions, take the
    first right singular vector `v` and project the centred features on it (as
    pytorch-grad-cam). A singular vector's sign is arbitrary, so it is fixed by the
    reference's rule "the map's sum >= 0" applied to the uncentred projection: the
    centred one sums to 0 by construction (its sign would be rounding noise), the
    uncentred one sums to `positions * mean . v`. So `v` points along the mean feature.
    Returns `(B, *spatial)`.
    """
    shape = tf.shape(features)
    flat = tf.reshape(features, [shape[0], -1, shape[-1]])
    mean = tf.reduce_mean(flat, axis=1, keepdims=True)
    centred = flat - mean
    _, _, right = tf.linalg.svd(centred, full_matrices=False)
    projection = tf.einsum("bpk,bk->bp", centred, right[:, :, 0])
    along_mean = tf.einsum("bpk,bk->bp", mean, right[:, :, 0])  # (B, 1)
    sign = tf.where(along_mean < 0, -1.0, 1.0)
    return tf.reshape(projection * sign, shape[:-1])


def eigencam(activations: tf.Tensor, gradients: tf.Tensor | None = None) -> tf.Tensor:
    """The first principal component of `A`; the gradients are not used."""
    return first_component(activations)
