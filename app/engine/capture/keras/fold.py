"""BatchNormalization folded into the convolution (or Dense) that feeds it.

At inference a BatchNormalization is a per-channel affine map `y * s + t` with
`s = gamma / sqrt(variance + epsilon)` and `t = beta - mean * s`. Multiplied into the
kernel and bias of the layer before it, the pair becomes one op plus a bias, which
TensorFlow fuses; the model's outputs and the gradients at every other layer are the
same up to float rounding. mobilenet_v2 has 52 such pairs: a batch-1 Grad-CAM took
14.3 ms folded vs 23.6 ms unfolded (`python -m bench.engine_speed`, 2 CPUs).

Only the plain pattern is folded, and never in the served model itself: the folded
weights are copies the compiled function uses instead. A pair stays as it is when the
convolution is the explained layer (its own output is needed), has an activation,
groups, causal padding, LoRA, quantized or non-float32 weights, when either layer is
shared or a subclass (its own call() may differ), or its output is used anywhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np
import tensorflow as tf

_CONVOLUTIONS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_FOLDABLE = (*_CONVOLUTIONS, *_DEPTHWISE, keras.layers.Dense)


@dataclass(frozen=True)
class FoldedLayer:
    """A convolution or Dense with its BatchNormalization multiplied in."""

    layer: keras.layers.Layer
    kernel: tf.Variable
    bias: tf.Variable

    def __call__(self, inputs: tf.Tensor) -> tf.Tensor:
        layer = self.layer
        if isinstance(layer, keras.layers.Dense):
            outputs = keras.ops.matmul(inputs, self.kernel)
        elif isinstance(layer, _DEPTHWISE):
            outputs = keras.ops.depthwise_conv(
                inputs,
                self.kernel,
                strides=layer.strides,
                padding=layer.padding,
                dilation_rate=layer.dilation_rate,
                data_format=layer.data_format,
            )
        else:
            outputs = layer.convolution_op(inputs, self.kernel)
        return keras.ops.add(outputs, self.bias)


class FoldPlan:
    """Which layers a replay computes folded, and which BatchNormalizations it skips."""

    def __init__(self, folded: dict[int, FoldedLayer], absorbed: dict[int, int]) -> None:
        self._folded = folded  # id(convolution) -> its folded stand-in
        self._absorbed = absorbed  # id(batch norm) -> id(its convolution)

    def __len__(self) -> int:
        return len(self._folded)

    def without(self, layer: keras.layers.Layer) -> FoldPlan:
        """This plan minus the pair `layer` belongs to (e.g. the explained layer)."""
        conv_id = self._absorbed.get(id(layer), id(layer))
        folded = {k: v for k, v in self._folded.items() if k != conv_id}
        return FoldPlan(folded, {k: v for k, v in self._absorbed.items() if v != conv_id})

    def call(self, layer: keras.layers.Layer, call_as_is: Callable[[], Any], inputs: Any) -> Any:
        """`layer`'s output: folded, passed through (an absorbed norm), or as Keras computes it."""
        if id(layer) in self._absorbed:  # `without` drops a norm together with its conv
            return inputs
        folded = self._folded.get(id(layer))
        return call_as_is() if folded is None else folded(inputs)


def plan_folding(model: keras.Model, device: str | None = None) -> FoldPlan:
    """Every foldable (convolution, BatchNormalization) pair of `model` and its nested
    models, with the folded weights placed on `device`."""
    folded: dict[int, FoldedLayer] = {}
    absorbed: dict[int, int] = {}
    with tf.device(device):
        for conv, norm in _pairs(model):
            folded[id(conv)] = _fold(conv, norm)
            absorbed[id(norm)] = id(conv)
    return FoldPlan(folded, absorbed)


def _pairs(model: keras.Model) -> Iterator[tuple[keras.layers.Layer, keras.layers.Layer]]:
    outputs = {id(tensor) for tensor in model.outputs}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _pairs(layer)
        # Exact types: a subclass may compute something else in its own call().
        if type(layer) is not keras.layers.BatchNormalization or not _plain_norm(layer):
            continue
        source = layer.input._keras_history.operation
        if (
            type(source) in _FOLDABLE
            and _plain_linear(source)
            and id(source.output) not in outputs
            and [node.operation for node in source._outbound_nodes] == [layer]
        ):
            yield source, layer


def _plain_norm(norm: keras.layers.BatchNormalization) -> bool:
    if len(norm._inbound_nodes) != 1:
        return False
    axis = norm.axis if isinstance(norm.axis, int) else None
    return (
        axis in (-1, len(norm.input.shape) - 1)
        and not getattr(norm, "synchronized", False)
        and norm.compute_dtype == "float32"
        and norm.variable_dtype == "float32"
    )


def _plain_linear(layer: keras.layers.Layer) -> bool:
    return (
        len(layer._inbound_nodes) == 1
        and layer.activation in (None, keras.activations.linear)
        and getattr(layer, "groups", 1) == 1
        and getattr(layer, "padding", "valid") != "causal"
        and getattr(layer, "data_format", "channels_last") == "channels_last"
        and not getattr(layer, "lora_enabled", False)
        and getattr(layer, "quantization_mode", None) is None
        and layer.compute_dtype == "float32"
        and layer.variable_dtype == "float32"
    )


def _fold(layer: keras.layers.Layer, norm: keras.layers.BatchNormalization) -> FoldedLayer:
    """Kernel * s per output channel; bias * s + beta - mean * s (computed in float64)."""
    mean = np.asarray(norm.moving_mean, dtype=np.float64)
    gamma = np.asarray(norm.gamma, np.float64) if norm.scale else np.ones_like(mean)
    beta = np.asarray(norm.beta, np.float64) if norm.center else np.zeros_like(mean)
    variance = np.asarray(norm.moving_variance, dtype=np.float64)
    scale = gamma / np.sqrt(variance + norm.epsilon)
    kernel = np.asarray(layer.kernel, dtype=np.float64)
    if isinstance(layer, _DEPTHWISE):  # (..., in, multiplier): out channel = in * m + k
        kernel = kernel * scale.reshape(kernel.shape[-2:])
    else:  # (..., in, out)
        kernel = kernel * scale
    bias = np.asarray(layer.bias, np.float64) if layer.use_bias else np.zeros_like(mean)
    bias = bias * scale + beta - mean * scale
    return FoldedLayer(layer, _constant(kernel), _constant(bias))


def _constant(values: np.ndarray) -> tf.Variable:
    # A variable, not a graph constant: every compiled layer shares one copy.
    return tf.Variable(values.astype(np.float32), trainable=False)
