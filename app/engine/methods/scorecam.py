"""Score-CAM (Wang et al. 2020): each channel, upsampled into a mask, weighs by the score
of the input it reveals.

The mask multiplies the model's preprocessed input. Text models take token ids, which
cannot be multiplied: for them the mask multiplies the output of the first Embedding
layer instead (the first float tensor of the model).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.engine.methods.perturbation import ModelContext, Perturbation, per_channel, upsample

# Keeps the min-max normalisation of a constant channel finite (the reference's +1e-7).
EPSILON = 1e-7


class ScoreCam(Perturbation):
    def __init__(self, context: ModelContext, mask_path: tuple[str, ...] | None) -> None:
        self.mask_path = mask_path  # None: mask the input; else this layer's output
        super().__init__(context)

    def chunk_spec(self) -> tf.TensorSpec:
        shape = [None, *self.context.spatial_shape, None]
        return tf.TensorSpec(shape, tf.float32, name="channels")

    def chunk_argument(self, activations: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        return activations

    def _chunk_step(
        self, inputs: tf.Tensor, layer: tf.Tensor, chunk: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        n_samples, n_channels = tf.shape(chunk)[0], tf.shape(chunk)[-1]
        rank = len(chunk.shape) - 2
        # (B, *S, c) -> (B * c, *S): one mask per (sample, channel) row.
        moved = tf.transpose(chunk, [0, rank + 1, *range(1, rank + 1)])
        maps = tf.reshape(moved, tf.concat([[-1], tf.shape(chunk)[1:-1]], axis=0))

        def apply_masks(values: tf.Tensor) -> tf.Tensor:  # values (B * c, *X, D)
            masks = min_max(upsample(maps, tf.shape(values)[1:-1]))
            return values * tf.cast(masks[..., None], values.dtype)

        repeated = tf.repeat(inputs, n_channels, axis=0)
        if self.mask_path is None:
            outputs, logits = self.forward(
                apply_masks(repeated), self.context.layer_path, lambda a: a
            )
        else:
            outputs, logits = self.forward(repeated, self.mask_path, apply_masks)
        return (
            per_channel(outputs, n_samples, n_channels),
            per_channel(logits, n_samples, n_channels),
        )


def min_max(masks: tf.Tensor) -> tf.Tensor:
    """Each mask `(M, *X)` scaled to [0, 1]."""
    axes = list(range(1, len(masks.shape)))
    low = tf.reduce_min(masks, axis=axes, keepdims=True)
    high = tf.reduce_max(masks, axis=axes, keepdims=True)
    return (masks - low) / (high - low + EPSILON)


def scorecam_weights(base_scores: np.ndarray, channel_scores: np.ndarray) -> np.ndarray:
    """`softmax_k(s_k)` per row: `channel_scores` (N, k) -> (N, k); the base is unused."""
    shifted = channel_scores - channel_scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))
