"""The capture adapter for a frozen graph: the GraphDef imported inside a `tf.function`.

`import_graph_def(..., input_map=..., return_elements=...)` puts the graph's ops into
the compiled function with the batch as its input; the explained layer's tensor and the
output come back, and `tf.gradients` differentiates the score inside the graph (ops
imported from a GraphDef are not recorded by a GradientTape). Replacing a layer's output
(Score-CAM, Ablation-CAM) imports the graph a second time with that tensor mapped in:
the ops whose results are unused are pruned when the function is optimised.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Outputs, ScoreOf
from app.engine.capture.frozen.model import FrozenModel
from app.engine.capture.guided import guided_relus
from app.engine.compiled import compile_step
from app.engine.layers.graph import OnTarget


def import_frozen(
    graph_def: tf.compat.v1.GraphDef, input_map: dict[str, tf.Tensor], returns: list[str]
) -> list[tf.Tensor]:
    """The `returns` tensors of the graph, imported with `input_map` mapped in."""
    return list(
        tf.graph_util.import_graph_def(
            graph_def, input_map=input_map, return_elements=returns, name="frozen"
        )
    )


class FrozenCapture:
    def __init__(self, model: FrozenModel, path: tuple[str, ...]) -> None:
        self.model = model
        self.path = path
        self.input_spec = model.input_spec
        # Folded except where the explained layer and the Score-CAM mask are computed.
        keep = {model.tensor_of(path)} | ({model.mask.tensor} if model.mask else set())
        self.graph_def = model.graph_for(frozenset(keep))

    def gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, with_gradients: bool
    ) -> tuple[tf.Tensor, tf.Tensor | None, Outputs]:
        activations, predictions, logits = self._run(inputs, self.path, {})
        score = score_of(predictions, logits)
        gradients = tf.gradients(score, activations)[0] if with_gradients else None
        return activations, gradients, predictions

    def input_gradients(
        self, inputs: tf.Tensor, score_of: ScoreOf, guided: bool
    ) -> tuple[tf.Tensor, Outputs, tf.Tensor]:
        with guided_relus(guided):  # the imported ops carry the override too
            _, outputs, logits = self._run(inputs, self.path, {})
        scores = score_of(outputs, logits)
        (gradients,) = tf.gradients(scores, [inputs])
        return tf.cast(gradients, tf.float32), outputs, scores

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[Outputs, Outputs]:
        activations, outputs, logits = self._run(inputs, path, {})
        replaced = on_target(activations)
        if replaced is not activations:
            layer = self.model.tensor_of(path)
            _, outputs, logits = self._run(inputs, path, {layer: replaced})
        return outputs, logits

    def has_logit(self, output: str) -> bool:
        # The input of a final Softmax/Sigmoid, else the output itself (as before heads).
        return output in self.model.outputs

    def mask_path(self) -> tuple[str, ...] | None:
        mask = self.model.mask
        return None if mask is None else (mask.name,)

    def is_cut(self, path: tuple[str, ...]) -> bool:
        return self.model.is_cut(path)

    def _run(
        self, inputs: tf.Tensor, path: tuple[str, ...], replace: dict[str, tf.Tensor]
    ) -> tuple[tf.Tensor, Outputs, Outputs]:
        model = self.model
        keys = list(model.outputs)
        returns = [
            model.tensor_of(path),
            *(model.outputs[key] for key in keys),
            *(model.logit_names[key] for key in keys),
        ]
        input_map = {model.input_name: inputs, **replace}
        graph_def = self.graph_def if path == self.path else model.graph_def
        activations, *found = import_frozen(graph_def, input_map, returns)
        as_float = [tf.cast(tensor, tf.float32) for tensor in found]
        outputs = dict(zip(keys, as_float[: len(keys)], strict=True))
        return activations, outputs, dict(zip(keys, as_float[len(keys) :], strict=True))


class FrozenForward:
    """The plain forward (faithfulness scores): outputs `(M, n)` float32 for `(M, ...)`.

    For an encoded-image input, the forward starts at the decoded image: the masked
    images the scores need are pixels, not files.
    """

    def __init__(self, model: FrozenModel, *, device: str | None = None) -> None:
        self.model = model
        self.device = device
        self.start = model.input_name if model.decoded is None else model.decoded.tensor
        self.primary = next(k for k, v in model.outputs.items() if v == model.output_name)
        self.graph_def = model.graph_for(frozenset({self.start}))
        spec = model.input_spec
        if model.decoded is not None:
            shape = model.decoded.output_shape
            spec = tf.TensorSpec([None, *shape[1:]], model.decoded.dtype, name="pixels")
        self._step = compile_step(self._forward_step, [spec])

    @property
    def trace_count(self) -> int:
        return int(self._step.experimental_get_tracing_count())

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        """The explained output `(M, n)` (the card's, else the only one)."""
        return self.outputs(inputs)[self.primary]

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        """Every output by name, float32 `(M, ...)`."""
        with tf.device(self.device):
            return {key: value.numpy() for key, value in self._step(inputs).items()}

    def _forward_step(self, inputs: tf.Tensor) -> dict[str, tf.Tensor]:
        model = self.model
        if model.decoded is None:
            input_map = {model.input_name: inputs}
        else:  # the encoded input is unused: an empty string per row stands in for it
            input_map = {
                self.start: tf.cast(inputs, model.decoded.dtype),
                model.input_name: tf.fill(tf.shape(inputs)[:1], ""),
            }
        keys = list(model.outputs)
        found = import_frozen(self.graph_def, input_map, [model.outputs[key] for key in keys])
        return {key: tf.cast(tensor, tf.float32) for key, tensor in zip(keys, found, strict=True)}


class FrozenDecoder:
    """Encoded images `(B,)` -> the graph's decoded images `(B, H, W, C)` (for overlays)."""

    def __init__(self, model: FrozenModel) -> None:
        assert model.decoded is not None
        self.model = model
        self.tensor = model.decoded.tensor
        self._step = compile_step(self._decode_step, [model.input_spec])

    def __call__(self, uploads: np.ndarray) -> np.ndarray:
        return self._step(uploads).numpy()  # type: ignore[no-any-return]

    def _decode_step(self, inputs: tf.Tensor) -> tf.Tensor:
        graph_def = self.model.graph_def
        (decoded,) = import_frozen(graph_def, {self.model.input_name: inputs}, [self.tensor])
        return decoded
