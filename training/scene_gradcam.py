"""A direct `tf.GradientTape` Grad-CAM for the scene models' pointing figures.

Independent of the service's engine on purpose: it states what the service must
compute. Channel weights = spatial mean of d score / d activations at the layer,
map = relu(sum_k w_k A_k), upsampled to 64x64 with `tf.image.resize(bilinear)`.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from training.shapes_data import IMAGE_SIZE

# score(pre-activations, this batch's rows of the targets) -> (B,) scores
ScoreFn = Callable[[list[tf.Tensor], dict[str, np.ndarray]], tf.Tensor]


def tapped_model(model: keras.Model, layer: str, logit_layers: list[str]) -> keras.Model:
    """Outputs [activations at `layer`, *the INPUTS of `logit_layers`] (the pre-activations)."""
    logits = [model.get_layer(name).input for name in logit_layers]
    return keras.Model(model.inputs, [model.get_layer(layer).output, *logits])


def gradcam_maps(
    tapped: keras.Model,
    pixels: np.ndarray,
    targets: dict[str, np.ndarray],
    score: ScoreFn,
    batch_size: int = 128,
) -> np.ndarray:
    """(B, 64, 64) float maps of `pixels` (B, 64, 64, 3) in 0..1; row i's score is
    `score(logits, targets)` with the targets' arrays sliced like the pixels."""
    maps = []
    for start in range(0, len(pixels), batch_size):
        rows = slice(start, start + batch_size)
        batch_targets = {name: values[rows] for name, values in targets.items()}
        maps.append(gradcam_batch(tapped, tf.constant(pixels[rows]), batch_targets, score))
    return np.concatenate(maps)


def gradcam_batch(
    tapped: keras.Model, pixels: tf.Tensor, targets: dict[str, np.ndarray], score: ScoreFn
) -> np.ndarray:
    with tf.GradientTape() as tape:
        activations, *logits = tapped(pixels, training=False)
        # Rows are independent (inference mode), so the gradient of the sum is per row.
        total = tf.reduce_sum(score(logits, targets))
    gradients = tape.gradient(total, activations)
    weights = tf.reduce_mean(gradients, axis=(1, 2), keepdims=True)
    cams = tf.nn.relu(tf.reduce_sum(weights * activations, axis=-1))
    resized = tf.image.resize(cams[..., None], (IMAGE_SIZE, IMAGE_SIZE), method="bilinear")
    return resized.numpy()[..., 0]


def peak_points(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(rows, cols) of each map's maximum."""
    flat = np.argmax(maps.reshape(len(maps), -1), axis=1)
    return np.unravel_index(flat, (IMAGE_SIZE, IMAGE_SIZE))


def zero_maps(maps: np.ndarray) -> np.ndarray:
    """(B,) bool: the map is all zero, points nowhere and counts as a miss."""
    return ~maps.reshape(len(maps), -1).any(axis=1)


def pointing(maps: np.ndarray, own: np.ndarray, other: np.ndarray) -> dict[str, float]:
    """Rates of the peak on `own` and on `other` (both (B, 64, 64) bool regions)."""
    rows, cols = peak_points(maps)
    index = np.arange(len(maps))
    nowhere = zero_maps(maps)
    return {
        "inside": float(np.mean(own[index, rows, cols] & ~nowhere)),
        "on_other": float(np.mean(other[index, rows, cols] & ~nowhere)),
        "zero_maps": float(np.mean(nowhere)),
    }


def box_region(boxes: np.ndarray) -> np.ndarray:
    """(B, 64, 64) bool: pixels inside each (x0, y0, x1, y1) end-exclusive box."""
    ys, xs = np.mgrid[:IMAGE_SIZE, :IMAGE_SIZE]
    x0, y0, x1, y1 = (boxes[:, i, None, None] for i in range(4))
    return (x0 <= xs) & (xs < x1) & (y0 <= ys) & (ys < y1)
