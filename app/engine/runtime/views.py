"""pytorch-grad-cam's maps at the input's resolution: test-time augmentation
(`aug_smooth`) and several target layers, combined as its `BaseCAM` does.

One layer's map for one view (an augmented input): `relu` (the service's option, on by
default as pytorch-grad-cam always applies it), min-max normalised (`x - min`, then
`/ (max + 1e-7)`), resized to the input (bilinear, half-pixel: `cv2.resize`'s
INTER_LINEAR) and flipped back if the view was flipped (`views_at_input`). Then
(`combine_views`): per view, the mean over the layers, min-max normalised again
(`aggregate_multi_layers`); the mean over the views (`forward_augmentation_smoothing`).

The views of `aug_smooth` are ttach's `Compose([HorizontalFlip(), Multiply([0.9, 1,
1.1])])`: no flip / flip x the model input (after its preprocessing) times each factor.
Without `aug_smooth` the one view is the input itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

FACTORS = (0.9, 1.0, 1.1)
AUGMENTED = tuple((flip, factor) for flip in (False, True) for factor in FACTORS)
PLAIN = ((False, 1.0),)
MIN_MAX_EPSILON = 1e-7  # pytorch-grad-cam's scale_cam_image


def view_list(aug_smooth: bool) -> tuple[tuple[bool, float], ...]:
    return AUGMENTED if aug_smooth else PLAIN


def identity_view(views: Sequence[tuple[bool, float]]) -> int:
    """The index of the view that is the input itself (its predictions are answered)."""
    return list(views).index((False, 1.0))


def augment(inputs: tf.Tensor, views: Sequence[tuple[bool, float]]) -> tf.Tensor:
    """Images `(N, H, W, C)` -> `(V * N, H, W, C)`, view-major."""
    copies = []
    for flip, factor in views:
        copy = tf.reverse(inputs, axis=[2]) if flip else inputs
        copies.append(copy if factor == 1.0 else copy * tf.cast(factor, inputs.dtype))
    return tf.concat(copies, axis=0)


def min_max(maps: tf.Tensor) -> tf.Tensor:
    """Per map `(M, H, W)`: `x - min`, divided by `max + 1e-7`."""
    shifted = maps - tf.reduce_min(maps, axis=[1, 2], keepdims=True)
    return shifted / (tf.reduce_max(shifted, axis=[1, 2], keepdims=True) + MIN_MAX_EPSILON)


def views_at_input(
    raw: tf.Tensor, size: tf.Tensor, views: Sequence[tuple[bool, float]]
) -> tf.Tensor:
    """Raw maps `(V * N, h, w)` (relu already applied or not, as asked) -> `(V, N, H, W)`
    min-max normalised, resized to `size` (H, W) and flipped back."""
    resized = tf.image.resize(min_max(tf.cast(raw, tf.float32))[..., None], size)[..., 0]
    per_view = tf.reshape(resized, [len(views), -1, size[0], size[1]])
    flips = [
        tf.reverse(per_view[i], axis=[2]) if flip else per_view[i]
        for i, (flip, _) in enumerate(views)
    ]
    return tf.stack(flips)


def combine_views(per_layer: Sequence[np.ndarray]) -> np.ndarray:
    """Maps `(V, N, H, W)` of each layer -> `(N, H, W)` float32: the mean over layers,
    min-max normalised per view, then the mean over the views."""
    layers = np.mean(np.stack([np.asarray(maps, np.float32) for maps in per_layer]), axis=0)
    low = layers.min(axis=(2, 3), keepdims=True)
    shifted = layers - low
    high = shifted.max(axis=(2, 3), keepdims=True)
    combined: np.ndarray = np.mean(shifted / (high + MIN_MAX_EPSILON), axis=0)
    return combined.astype(np.float32)
