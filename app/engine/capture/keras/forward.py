"""A model's plain forward pass, compiled once: the first output for a batch of inputs."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from app.engine.capture.keras.fold import FoldPlan, plan_folding
from app.engine.compiled import compile_step
from app.engine.layers.graph import named_outputs


class ModelForward:
    """`model(inputs)`'s first output as float32, one trace for every batch size."""

    def __init__(
        self, model: keras.Model, *, device: str | None = None, fold: FoldPlan | None = None
    ) -> None:
        self.model = model
        self.device = device
        self._fold = plan_folding(model, device) if fold is None else fold
        model_input = model.inputs[0]
        spec = tf.TensorSpec([None, *model_input.shape[1:]], model_input.dtype, name="inputs")
        self._step = compile_step(self._forward_step, [spec])

    @property
    def trace_count(self) -> int:
        return int(self._step.experimental_get_tracing_count())

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The first output `(M, n_classes)` for preprocessed `inputs` `(M, ...)`."""
        return next(iter(self.outputs(inputs).values()))

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every output by name (`app.engine.layers.graph.named_outputs`), float32."""
        with tf.device(self.device):
            return {name: value.numpy() for name, value in self._step(inputs).items()}

    def _forward_step(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        fold = self._fold

        def call(layer: keras.layers.Layer, *args: object, **kwargs: object) -> object:
            return fold.call(layer, lambda: layer(*args, **kwargs), args[0])

        model = self.model
        if isinstance(model, keras.Sequential):
            x = inputs
            for layer in model.layers:
                x = call(layer, x)
        else:
            x = model._run_through_graph(inputs, operation_fn=lambda op: op, call_fn=call)
        return {name: tf.cast(value, tf.float32) for name, value in named_outputs(model, x).items()}
