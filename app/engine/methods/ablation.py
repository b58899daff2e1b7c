"""Ablation-CAM (Desai & Ramaswamy 2020): a channel weighs by how much the target's score
drops when the channel is set to 0.

When the layer's output is a cut of the graph (every path from the input to the output
goes through it, at every nesting level), only the rest of the model runs, once per
ablated channel, on the activations captured once per sample (the layers before it are
pruned from the compiled graph: their output is replaced). Otherwise (a skip connection
around the layer) the whole model runs on the repeated inputs.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.engine.methods.perturbation import ModelContext, Perturbation, per_channel

# Keeps the relative drop finite for a zero score (the reference's +1e-7).
EPSILON = 1e-7


class AblationCam(Perturbation):
    def __init__(self, context: ModelContext, suffix_only: bool) -> None:
        self.suffix_only = suffix_only
        super().__init__(context)

    def chunk_spec(self) -> tf.TensorSpec:
        return tf.TensorSpec([None, None], tf.int32, name="channels")

    def chunk_argument(self, activations: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        return channels

    def _chunk_step(
        self, inputs: tf.Tensor, layer: tf.Tensor, chunk: tf.Tensor
    ) -> tuple[tf.Tensor, tf.Tensor]:
        n_samples, n_channels = tf.shape(chunk)[0], tf.shape(chunk)[1]
        rank = len(self.context.spatial_shape)

        def zero_channels(activations: tf.Tensor) -> tf.Tensor:  # (B * c, *S, K)
            depth = tf.shape(activations)[-1]
            keep = 1.0 - tf.one_hot(tf.reshape(chunk, [-1]), depth, dtype=activations.dtype)
            keep = tf.reshape(keep, tf.concat([[-1], tf.ones([rank], tf.int32), [depth]], 0))
            return activations * keep

        def ablate(activations: tf.Tensor) -> tf.Tensor:
            if self.suffix_only:  # the captured activations stand in for the prefix
                captured = tf.cast(layer, activations.dtype)
                activations = tf.repeat(captured, n_channels, axis=0)
            return self.context.on_patches(activations, zero_channels)

        replayed = inputs if self.suffix_only else tf.repeat(inputs, n_channels, axis=0)
        outputs, logits = self.forward(replayed, self.context.layer_path, ablate)
        return (
            per_channel(outputs, n_samples, n_channels),
            per_channel(logits, n_samples, n_channels),
        )


def ablation_weights(base_scores: np.ndarray, channel_scores: np.ndarray) -> np.ndarray:
    """`(y - y_k) / (|y| + 1e-7)`: `base_scores` (N,), `channel_scores` (N, k) -> (N, k)."""
    base = base_scores[:, None]
    return np.asarray((base - channel_scores) / (np.abs(base) + EPSILON))
