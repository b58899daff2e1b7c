"""FullGrad (Srinivas & Fleuret 2019) as pytorch-grad-cam 1.5.7's `FullGrad` computes it.

Terms, each channel min-max normalised over its positions and resized to the input
(bilinear, half-pixel, as OpenCV), then summed: `|d score / d x * x|` (the input's
channels), and for every 2-D convolution (Conv2D, DepthwiseConv2D) with a bias and every
BatchNormalization with one (`center`), `|bias * d score / d z|`, `z` that layer's output
before its activation; a BatchNormalization's bias is `beta - mean * gamma / sqrt(var +
eps)`. The sum is min-max normalised. Resizing is linear, so the channels are summed at
the layer's resolution and resized once.

Folding: the Keras capture multiplies each BatchNormalization into the convolution
before it, which merges two bias terms into one. FullGrad needs both (each is
normalised on its own), so it replays the model unfolded, every layer as Keras computes
it, each convolution with an activation split into its linear part and the activation.
Only Keras models: a frozen graph has no layers to find the biases in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras
import tensorflow as tf

from app.engine.capture.keras.capture import float_outputs
from app.engine.capture.keras.fold import FoldedLayer
from app.engine.layers.graph import named_outputs, output_layers, run_layers
from app.engine.methods.pixel.attributions import PixelCall, PixelContext, PixelResult
from app.engine.methods.pixel.maps import EPSILON, min_max, resize_maps
from app.engine.targets.score import LogitFn, logit_function

_CONVOLUTIONS = (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)


class BiasRecorder:
    """Replays layers as Keras computes them, keeping each bias layer's linear output."""

    def __init__(self) -> None:
        self.terms: list[tuple[tf.Tensor, tf.Tensor]] = []  # (output (R, h, w, K), bias (K,))

    def call(self, layer: keras.layers.Layer, call_as_is: Callable[[], Any], inputs: Any) -> Any:
        if type(layer) is keras.layers.BatchNormalization and layer.center:
            outputs = call_as_is()
            if len(outputs.shape) == 4:
                self.terms.append((outputs, batchnorm_bias(layer)))
            return outputs
        if type(layer) not in _CONVOLUTIONS or not layer.use_bias:
            return call_as_is()
        linear = FoldedLayer(layer, layer.kernel, layer.bias)(inputs)  # no activation
        self.terms.append((linear, tf.convert_to_tensor(layer.bias)))
        activation = layer.activation
        return linear if activation in (None, keras.activations.linear) else activation(linear)


def batchnorm_bias(norm: keras.layers.BatchNormalization) -> tf.Tensor:
    """`beta - mean * gamma / sqrt(variance + epsilon)` (the FullGrad paper's BN bias)."""
    scale = tf.math.rsqrt(tf.convert_to_tensor(norm.moving_variance) + norm.epsilon)
    if norm.scale:
        scale = scale * norm.gamma
    return norm.beta - norm.moving_mean * scale


def replay_unfolded(
    model: keras.Model,
    inputs: tf.Tensor,
    recorder: BiasRecorder,
    logits: dict[str, tf.Tensor] | None = None,
) -> Any:
    """`model(inputs)` layer by layer, nested models included, through `recorder`;
    `logits` (the outer model only) gets each output's logit by name, from the input of
    the layer making it."""
    logit_fns: dict[int, tuple[str, LogitFn]] = {}
    if logits is not None:
        for name, layer in output_layers(model).items():
            logit_fn = logit_function(layer)
            if logit_fn is not None:
                logit_fns[id(layer)] = (name, logit_fn)

    def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        if logits is not None and id(layer) in logit_fns:
            name, logit_fn = logit_fns[id(layer)]
            logits[name] = logit_fn(args[0])
        if isinstance(layer, keras.Model):
            return replay_unfolded(layer, args[0], recorder)
        return recorder.call(layer, lambda: layer(*args, **kwargs), args[0])

    return run_layers(model, inputs, call)


def channel_terms(values: tf.Tensor) -> tf.Tensor:
    """`(R, h, w, K)` -> each channel min-max normalised over (h, w), summed: `(R, h, w)`."""
    shifted = values - tf.reduce_min(values, axis=[1, 2], keepdims=True)
    peak = tf.reduce_max(shifted, axis=[1, 2], keepdims=True)
    return tf.reduce_sum(shifted / (peak + EPSILON), axis=-1)


def fullgrad(context: PixelContext, call: PixelCall) -> PixelResult:
    """FullGrad's map `(R, H, W)` in [0, 1] (see the module docstring)."""
    model = context.model
    assert model is not None  # Keras models only: checked when the method is built
    recorder = BiasRecorder()
    kept: dict[str, tf.Tensor] = {}
    result = replay_unfolded(model, call.inputs, recorder, kept)
    outputs, logits = float_outputs(named_outputs(model, result), kept)
    scored = context.head.score(outputs, logits, call.rows, call.use_logit)
    scores = scored.score
    linear = [output for output, _ in recorder.terms]
    gradients = tf.gradients(scores, [call.inputs, *linear])
    size = tf.shape(call.inputs)[1:3]
    total = channel_terms(tf.abs(gradients[0] * call.inputs))
    for (_, bias), gradient in zip(recorder.terms, gradients[1:], strict=True):
        if gradient is not None:  # a bias layer off the path to the output
            total += resize_maps(channel_terms(tf.abs(bias * gradient)), size)
    raw = min_max(total)
    return PixelResult(raw, outputs, scored, tf.zeros_like(scores))
