"""KPCA-CAM (Karmani et al. 2024), as pytorch-grad-cam 1.5.7's `KPCA_CAM`: the first
kernel principal component of the activations, as scikit-learn's `KernelPCA` computes it.

Per sample: `X` = activations reshaped to `(P, K)` (P positions), centred over the
positions; the kernel matrix `(P, P)` of `X`, centred (`KernelCenterer`); its top
eigenvector `u` and eigenvalue `l` (clipped at 0); the projection `u sqrt(l)`, with
`KernelPCA`'s sign: the entry of largest magnitude is positive (`svd_flip`). Kernels and
defaults are KernelPCA's: gamma = 1 / K, coef0 = 1, degree 3. Computed in float64; a
dense `(P, P)` eigendecomposition, so layers are limited to `MAX_POSITIONS` positions.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf

MAX_POSITIONS = 1024
COEF0 = 1.0
DEGREE = 3


def kernel_matrix(x: tf.Tensor, kernel: str, gamma: float | None) -> tf.Tensor:
    """scikit-learn's `pairwise_kernels(x, x, metric=kernel)` per sample: `(B, P, K)` ->
    `(B, P, P)`."""
    g = 1.0 / float(x.shape[-1]) if gamma is None else gamma
    dots = tf.einsum("bpk,bqk->bpq", x, x)
    if kernel == "linear":
        return dots
    if kernel == "poly":
        return (g * dots + COEF0) ** DEGREE
    if kernel == "sigmoid":
        return tf.tanh(g * dots + COEF0)
    if kernel == "rbf":
        norms = tf.reduce_sum(tf.square(x), axis=-1)
        squared = norms[:, :, None] + norms[:, None, :] - 2.0 * dots
        return tf.exp(-g * tf.maximum(squared, 0.0))
    if kernel == "cosine":
        unit = tf.math.divide_no_nan(x, tf.norm(x, axis=-1, keepdims=True))
        return tf.einsum("bpk,bqk->bpq", unit, unit)
    raise ValueError(f"unknown kernel {kernel!r}")


def centre_kernel(matrix: tf.Tensor) -> tf.Tensor:
    """`KernelCenterer`: `K - 1K - K1 + 1K1` with `1` the (P, P) matrix of 1/P."""
    rows = tf.reduce_mean(matrix, axis=1, keepdims=True)
    columns = tf.reduce_mean(matrix, axis=2, keepdims=True)
    total = tf.reduce_mean(matrix, axis=(1, 2), keepdims=True)
    return matrix - rows - columns + total


def kpcacam(kernel: str, gamma: float | None) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The raw map `(B, *spatial)` of activations `(B, *spatial, K)`; gradients unused."""

    def raw_map(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
        shape = tf.shape(activations)
        flat = tf.reshape(tf.cast(activations, tf.float64), [shape[0], -1, shape[-1]])
        flat = tf.ensure_shape(flat, [None, None, activations.shape[-1]])
        centred = flat - tf.reduce_mean(flat, axis=1, keepdims=True)
        values, vectors = tf.linalg.eigh(centre_kernel(kernel_matrix(centred, kernel, gamma)))
        top = vectors[:, :, -1]  # eigh sorts ascending
        largest = tf.argmax(tf.abs(top), axis=1, output_type=tf.int32)
        sign = tf.sign(tf.gather(top, largest, axis=1, batch_dims=1))
        projection = top * (sign * tf.sqrt(tf.maximum(values[:, -1], 0.0)))[:, None]
        return tf.cast(tf.reshape(projection, shape[:-1]), tf.float32)

    return raw_map
