"""The capture adapter for a Keras model: replayed layer by layer, its BatchNormalizations
folded (`app.engine.capture.keras.fold`), the explained layer's output watched on the way."""

from __future__ import annotations

import keras
import tensorflow as tf

from app.engine.capture.adapter import Outputs, ScoreOf
from app.engine.capture.guided import guided_relus
from app.engine.capture.keras.fold import FoldPlan
from app.engine.layers.graph import (
    OnTarget,
    first_layer_of_type,
    is_cut,
    named_outputs,
    output_layers,
    replay,
)
from app.engine.targets.score import LogitFn, logit_function


class KerasCapture:
    """A Keras model replayed with its BatchNormalizations folded (`fold`)."""

    def __init__(
        self,
        model: keras.Model,
        path: tuple[str, ...],
        fold: FoldPlan,
    ) -> None:
        self.model = model
        self.path = path
        self.fold = fold
        # Each output's logit: its last layer's pre-activation, from that layer's input.
        self.logit_fns: dict[int, tuple[str, LogitFn]] = {}
        for name, layer in output_layers(model).items():
            logit_fn = logit_function(layer)
            if logit_fn is not None:
                self.logit_fns[id(layer)] = (name, logit_fn)
        model_input = model.inputs[0]
        self.input_spec = tf.TensorSpec(
            [None, *model_input.shape[1:]], model_input.dtype, name="inputs"
        )

    def gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, with_gradients: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, Outputs]:
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

    def input_gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, guided: bool
    ) -> tuple[tf.Tensor, Outputs, tf.Tensor]:
        # tf.gradients, not a tape: only it honours the guided gradient override.
        with guided_relus(guided):
            outputs, logits = self.forward(inputs, self.path, lambda output: output)
        scores = score_of(outputs, logits)
        (gradients,) = tf.gradients(scores, [inputs])
        return tf.cast(gradients, tf.float32), outputs, scores

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[Outputs, Outputs]:
        captured: dict[str, tf.Tensor] = {}

        def keep_logits(layer: keras.layers.Layer, layer_input: tf.Tensor) -> None:
            found = self.logit_fns.get(id(layer))
            if found is not None:
                captured[found[0]] = found[1](layer_input)

        result = replay(self.model, inputs, path, on_target, keep_logits, fold=self.fold)
        return float_outputs(named_outputs(self.model, result), captured)

    def has_logit(self, output: str) -> bool:
        return any(name == output for name, _ in self.logit_fns.values())

    def mask_path(self) -> tuple[str, ...] | None:
        return first_layer_of_type(self.model, keras.layers.Embedding)

    def is_cut(self, path: tuple[str, ...]) -> bool:
        return is_cut(self.model, path)


def float_outputs(outputs: Outputs, logits: Outputs) -> tuple[Outputs, Outputs]:
    """Outputs and logits as float32 by name; an output without a logit is its own."""
    as_float = {name: tf.cast(value, tf.float32) for name, value in outputs.items()}
    return as_float, {
        name: tf.cast(logits[name], tf.float32) if name in logits else value
        for name, value in as_float.items()
    }
