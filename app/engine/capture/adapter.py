"""The capture protocol: how the engine runs one model with one explained layer.

The CAM methods, scores and batcher see only (activations, gradients) and model outputs;
a `Capture` produces them. `KerasCapture` (`app.engine.capture.keras.capture`) replays a
Keras model; `FrozenCapture` (`app.engine.capture.frozen.capture`) imports a SavedModel's
frozen graph. Every method runs inside a `tf.function`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np
import tensorflow as tf

from app.engine.layers.graph import OnTarget

# (predictions (B, n) float32, logits (B, n) float32) -> the score differentiated (B,)
ScoreOf = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
Forward = Callable[[np.ndarray], np.ndarray]  # plain forward: inputs (M, ...) -> (M, n)


class Capture(Protocol):
    input_spec: tf.TensorSpec  # batch dimension None

    def gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, with_gradients: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, tf.Tensor]:
        """(activations, d score / d activations or None, predictions float32)."""

    def input_gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, guided: bool
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(d score / d inputs (B, ...), predictions (B, n), scores (B,)), all float32.

        The pixel-level methods' gradient, at the model input rather than a layer; with
        `guided`, every ReLU backpropagates the guided rule (`app.engine.capture.guided`).
        """

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[tf.Tensor, tf.Tensor]:
        """(outputs, logits) float32; `on_target` sees (and may replace) `path`'s output."""

    def mask_path(self) -> tuple[str, ...] | None:
        """Where Score-CAM masks a model whose input is not float (the first Embedding)."""

    def is_cut(self, path: tuple[str, ...]) -> bool:
        """Whether every path from the input to the output goes through `path`."""
