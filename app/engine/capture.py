"""Capture adapters: how the engine runs one model with one explained layer.

The CAM methods, scores and batcher see only (activations, gradients) and model outputs;
a `Capture` produces them. `KerasCapture` replays a Keras model (`app.engine.graph`);
`FrozenCapture` (`app.engine.frozen_capture`) imports a SavedModel's frozen graph.
Every method runs inside a `tf.function`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import keras
import numpy as np
import tensorflow as tf

from app.engine.fold import FoldPlan
from app.engine.graph import OnTarget, first_layer_of_type, first_output, is_cut, replay
from app.engine.score import LogitFn

# (predictions (B, n) float32, logits (B, n) float32) -> the score differentiated (B,)
ScoreOf = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
Forward = Callable[[np.ndarray], np.ndarray]  # plain forward: inputs (M, ...) -> (M, n)


class Capture(Protocol):
    input_spec: tf.TensorSpec  # batch dimension None

    def gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, with_gradients: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor]:
        """(activations, d score / d activations or None, predictions float32)."""

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(outputs, logits) float32; `on_target` sees (and may replace) `path`'s output."""

    def mask_path(self) -> tuple[str, ...] | None:
        """Where Score-CAM masks a model whose input is not float (the first Embedding)."""

    def is_cut(self, path: tuple[str, ...]) -> bool:
        """Whether every path from the input to the output goes through `path`."""


class KerasCapture:
    """A Keras model replayed with its BatchNormalizations folded (`app.engine.fold`)."""

    def __init__(
        self,
        model: keras.Model,
        path: tuple[str, ...],
        fold: FoldPlan,
        logit_fn: LogitFn | None,
    ) -> None:
        self.model = model
        self.path = path
        self.fold = fold
        self.logit_fn = logit_fn
        model_input = model.inputs[0]
        self.input_spec = tf.TensorSpec(
            [None, *model_input.shape[1:]], model_input.dtype, name="inputs"
        )

    def gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, with_gradients: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor]:
        captured: dict[str, tf.Tensor] = {}
        with tf.GradientTape() as tape:

            def watch_target(activations: tf.Tensor) -> tf.Tensor:
                # Watched explicitly: a frozen (non-trainable) base records nothing otherwise.
                tape.watch(activations)
                captured["activations"] = activations
                return activations

            predictions, logits = self.forward(inputs, self.path, watch_target)
            score = score_of(predictions, logits)
        activations = captured["activations"]
        gradients = tape.gradient(score, activations) if with_gradients else None
        return activations, gradients, predictions

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[tf.Tensor, tf.Tensor]:
        captured: dict[str, tf.Tensor] = {}
        logit_fn = self.logit_fn

        def keep_logits(layer: keras.layers.Layer, layer_input: tf.Tensor) -> None:
            if logit_fn is not None:
                captured["logits"] = logit_fn(layer_input)

        result = replay(self.model, inputs, path, on_target, keep_logits, fold=self.fold)
        outputs = tf.cast(first_output(result), tf.float32)
        return outputs, tf.cast(captured.get("logits", outputs), tf.float32)

    def mask_path(self) -> tuple[str, ...] | None:
        return first_layer_of_type(self.model, keras.layers.Embedding)

    def is_cut(self, path: tuple[str, ...]) -> bool:
        return is_cut(self.model, path)
