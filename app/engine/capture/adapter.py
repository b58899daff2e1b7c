"""The capture protocol: how the engine runs one model with one explained layer.

The CAM methods, scores and batcher see only (activations, gradients) and model outputs;
a `Capture` produces them. `KerasCapture` (`app.engine.capture.keras.capture`) replays a
Keras model; `FrozenCapture` (`app.engine.capture.frozen.capture`) imports a SavedModel's
frozen graph. Every method runs inside a `tf.function`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np
import tensorflow as tf

from app.engine.layers.graph import OnTarget

# Every model output by name (Keras: a dict key or the output layer's name; SavedModel:
# the signature's output key), float32 with the batch first.
Outputs = Mapping[str, tf.Tensor]
# (outputs, logits) -> the score differentiated (B,); the logit of an output is the input
# of its final softmax / sigmoid, else the output itself.
ScoreOf = Callable[[Outputs, Outputs], tf.Tensor]


class Forward(Protocol):
    """The plain compiled forward pass (faithfulness scores, default targets)."""

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The first (or the card's) output `(M, n)` for inputs `(M, ...)`."""

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every output by name, float32 `(M, ...)`."""


class Capture(Protocol):
    input_spec: tf.TensorSpec  # batch dimension None

    def gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, with_gradients: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, Outputs]:
        """(activations, d score / d activations or None, outputs by name)."""

    def input_gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, guided: bool
    ) -> tuple[tf.Tensor, Outputs, tf.Tensor]:
        """(d score / d inputs (B, ...), outputs by name, scores (B,)), all float32.

        The pixel-level methods' gradient, at the model input rather than a layer; with
        `guided`, every ReLU backpropagates the guided rule (`app.engine.capture.guided`).
        """

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[Outputs, Outputs]:
        """(outputs, logits) by name; `on_target` sees (and may replace) `path`'s output."""

    def has_logit(self, output: str) -> bool:
        """Whether `output` has a logit apart from itself (a separable final activation)."""

    def mask_path(self) -> tuple[str, ...] | None:
        """Where Score-CAM masks a model whose input is not float (the first Embedding)."""

    def is_cut(self, path: tuple[str, ...]) -> bool:
        """Whether every path from the input to the output goes through `path`."""
