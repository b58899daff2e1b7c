"""Guided backpropagation as a gradient override inside a compiled pass.

pytorch-grad-cam's `GuidedBackpropReLUModel` (and Captum's `GuidedBackprop`) swap every
ReLU module for one whose backward passes the incoming gradient only where the ReLU's
input and that gradient are both positive. Here nothing is swapped: the ops a forward
creates inside `guided_relus()` carry TensorFlow's `gradient_override_map`, so
`tf.gradients` (not a `GradientTape`, which ignores the map) uses the guided rule for
them. Keras puts every ReLU (a `ReLU` layer, `Activation("relu")`, the `relu` inside a
Conv/Dense) through a `Relu` op, so all of them are covered; `Relu6` (a ReLU capped at 6)
is guided too, passing gradient where `0 < x < 6`. The served model is never changed.
Only valid while tracing a `tf.function` (graph mode).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import tensorflow as tf
from tensorflow.python.framework import ops

GUIDED_RELU = "GradcamServerGuidedRelu"
GUIDED_RELU6 = "GradcamServerGuidedRelu6"


def _guided_relu(op: tf.Operation, gradient: tf.Tensor) -> tf.Tensor:
    """`gradient * (x > 0) * (gradient > 0)` (pytorch-grad-cam's GuidedBackpropReLU)."""
    passes = tf.logical_and(op.inputs[0] > 0, gradient > 0)
    return tf.where(passes, gradient, tf.zeros_like(gradient))


def _guided_relu6(op: tf.Operation, gradient: tf.Tensor) -> tf.Tensor:
    """`gradient * (0 < x < 6) * (gradient > 0)`: ReLU6's own gradient, guided."""
    x = op.inputs[0]
    passes = tf.logical_and(tf.logical_and(x > 0, x < 6), gradient > 0)
    return tf.where(passes, gradient, tf.zeros_like(gradient))


ops.RegisterGradient(GUIDED_RELU)(_guided_relu)
ops.RegisterGradient(GUIDED_RELU6)(_guided_relu6)


@contextlib.contextmanager
def guided_relus(guided: bool) -> Iterator[None]:
    """While open (and `guided`), new `Relu`/`Relu6` ops backpropagate the guided rule."""
    if not guided:
        yield
        return
    graph = tf.compat.v1.get_default_graph()
    with graph.gradient_override_map({"Relu": GUIDED_RELU, "Relu6": GUIDED_RELU6}):
        yield
