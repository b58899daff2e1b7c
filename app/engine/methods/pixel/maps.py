"""Tensor math of the pixel-level methods (all float32, inside the compiled pass).

Inputs are `(R, *spatial, C)`: `(R, H, W, C)` for images, `(R, T, D)` for a text model's
embedding output; one row per (sample, target).
"""

from __future__ import annotations

import tensorflow as tf

# Keeps min-max normalisation finite on a constant map (pytorch-grad-cam's 1e-7).
EPSILON = 1e-7


def channel_max_abs(gradients: tf.Tensor) -> tf.Tensor:
    """`max_c |g|`: `(R, *spatial, C)` -> `(R, *spatial)` (Simonyan et al.; tf-keras-vis)."""
    return tf.reduce_max(tf.abs(gradients), axis=-1)


def min_max(maps: tf.Tensor) -> tf.Tensor:
    """Per row `(x - min) / (max(x - min) + 1e-7)` (pytorch-grad-cam's scale_cam_image)."""
    axes = list(range(1, len(maps.shape)))
    shifted = maps - tf.reduce_min(maps, axis=axes, keepdims=True)
    return shifted / (tf.reduce_max(shifted, axis=axes, keepdims=True) + EPSILON)


def resize_maps(maps: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """`(R, h, w)` -> `(R, H, W)`, bilinear with half-pixel centres (as OpenCV's resize)."""
    resized = tf.image.resize(maps[..., None], size, method="bilinear", antialias=False)
    return resized[..., 0]


def trapezoid(steps: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Captum's `riemann_trapezoid`: alphas `linspace(0, 1, n)` and weights `1/n` each,
    the first and last halved, `(n,)` both. Its weights sum to `(n - 1) / n`, not 1: the
    completeness gap carries that `-1/n` of `score(x) - score(baseline)`."""
    n = tf.cast(steps, tf.float32)
    alphas = tf.linspace(0.0, 1.0, steps)
    ends = tf.one_hot(0, steps) + tf.one_hot(steps - 1, steps)
    weights = (1.0 - 0.5 * ends) / n
    return alphas, weights


def along_path(inputs: tf.Tensor, baselines: tf.Tensor, alphas: tf.Tensor) -> tf.Tensor:
    """`baseline + alpha (x - baseline)` for every alpha: `(R, ...)` -> `(R * n, ...)`,
    the n points of row r at rows `r * n .. r * n + n - 1`."""
    ones = [1] * (len(inputs.shape) - 1)
    scaled = tf.reshape(alphas, [1, -1, *ones])
    points = baselines[:, None] + scaled * (inputs - baselines)[:, None]
    return tf.reshape(points, tf.concat([[-1], tf.shape(inputs)[1:]], axis=0))


def path_sum(gradients: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """`sum_i w_i g_i` per row: `(R * n, ...)` -> `(R, ...)`."""
    steps = tf.shape(weights)[0]
    shape = tf.concat([[-1, steps], tf.shape(gradients)[1:]], axis=0)
    ones = [1] * (len(gradients.shape) - 1)
    return tf.reduce_sum(tf.reshape(gradients, shape) * tf.reshape(weights, [1, -1, *ones]), 1)


def value_range(inputs: tf.Tensor) -> tf.Tensor:
    """`max - min` of each row, `(R, 1, ..., 1)` (broadcastable to the rows)."""
    axes = list(range(1, len(inputs.shape)))
    return tf.reduce_max(inputs, axes, keepdims=True) - tf.reduce_min(inputs, axes, keepdims=True)


def noise_draws(inputs: tf.Tensor, samples: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """SmoothGrad's standard-normal draws `(samples, ...)` from `seed` `(2,)` int32. The
    same draws serve every row, so a row's map does not depend on which other rows share
    its call."""
    shape = tf.concat([[samples], tf.shape(inputs)[1:]], 0)
    return tf.random.stateless_normal(shape, seed, dtype=inputs.dtype)


def noisy_copies(inputs: tf.Tensor, spread: tf.Tensor, draws: tf.Tensor) -> tf.Tensor:
    """Row r plus `spread_r * draws[k]` for every draw k: `(R * k, ...)`, row-major;
    `spread = noise * (max - min)` per row is tf-keras-vis' sigma."""
    points = inputs[:, None] + spread[:, None] * draws[None]
    return tf.reshape(points, tf.concat([[-1], tf.shape(inputs)[1:]], axis=0))
