"""The capture adapter for a Keras model: replayed layer by layer, its BatchNormalizations
folded (`app.engine.capture.keras.fold`), the explained layer's output watched on the way."""

from __future__ import annotations

import keras
import tensorflow as tf

from app.engine.capture.adapter import ScoreOf
from app.engine.capture.guided import guided_relus
from app.engine.capture.keras.fold import FoldPlan
from app.engine.layers.graph import OnTarget, first_layer_of_type, first_output, is_cut, replay
from app.engine.targets.score import LogitFn


class KerasCapture:
    """A Keras model replayed with its BatchNormalizations folded (`fold`)."""

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

    def input_gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, guided: bool
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        # tf.gradients, not a tape: only it honours the guided gradient override.
        with guided_relus(guided):
            predictions, logits = self.forward(inputs, self.path, lambda output: output)
        scores = score_of(predictions, logits)
        (gradients,) = tf.gradients(scores, [inputs])
        return tf.cast(gradients, tf.float32), predictions, scores

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
