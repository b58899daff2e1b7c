"""What is differentiated: the model output at the target, or its pre-activation logit.

The Grad-CAM paper differentiates the class logit. A saturated float32 softmax has
zero gradient, which gives all-zero maps, so `logit` is the default. The logit is
computed from the last layer's input with that layer's own weights: the served model
is not modified.
"""

from __future__ import annotations

from collections.abc import Callable

import keras
import tensorflow as tf

SCORE_MODES = ("logit", "output")

LogitFn = Callable[[tf.Tensor], tf.Tensor]
# (predictions (B, n) float32, logits (B, n) float32) -> the score differentiated (B,)
ScoreOf = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def logit_function(layer: keras.layers.Layer) -> LogitFn | None:
    """A function from the layer's input to its pre-activation output, or None.

    Supported: Dense (with any activation), Activation and Softmax layers (their input
    is the logit), and any layer with a linear activation (its output is the logit).
    """
    if isinstance(layer, keras.layers.Activation | keras.layers.Softmax):
        return lambda inputs: inputs
    if isinstance(layer, keras.layers.Dense) and not layer.lora_enabled:
        return lambda inputs: dense_preactivation(layer, inputs)
    if getattr(layer, "activation", None) is keras.activations.linear:
        return lambda inputs: layer(inputs)
    return None


def dense_preactivation(layer: keras.layers.Dense, inputs: tf.Tensor) -> tf.Tensor:
    outputs = tf.tensordot(inputs, layer.kernel, axes=1)
    if layer.use_bias:
        outputs = outputs + layer.bias
    return outputs


def target_score(
    targets: tf.Tensor, use_logit: tf.Tensor, resolved: dict[str, tf.Tensor] | None = None
) -> ScoreOf:
    """Per row, the logit (or output) at `targets` (B,) int32; -1 picks the row's top
    prediction. The targets so resolved are written to `resolved["targets"]`."""

    def score_of(predictions: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        top = tf.argmax(predictions, axis=-1, output_type=tf.int32)
        chosen = tf.where(targets < 0, top, targets)
        if resolved is not None:
            resolved["targets"] = chosen
        scored = tf.where(use_logit, logits, predictions)
        return tf.gather(scored, chosen, axis=1, batch_dims=1)

    return score_of
