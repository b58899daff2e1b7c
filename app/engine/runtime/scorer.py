"""A local model's scorer for the black-box methods: one compiled forward, chunked.

The forward is the capture adapter's (the path the CAM methods score through), with
nothing replaced at the explained layer: (outputs, logits) for every class. One trace
per model and layer; the perturbed images of a request pass through it `CHUNK_ROWS`
at a time, scaled as the card says.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Capture
from app.engine.compiled import compile_step
from app.engine.evaluation.faithfulness import Scaling
from app.engine.methods.blackbox import Scorer
from app.errors import InvalidInput

# Perturbed images per compiled call: bounded memory (224x224x3 float32: 19 MB).
CHUNK_ROWS = 32


class LocalScorer:
    def __init__(
        self, capture: Capture, path: tuple[str, ...], device: str | None, method: str
    ) -> None:
        spec = capture.input_spec
        if len(spec.shape) != 4 or not spec.dtype.is_floating:
            raise InvalidInput(
                f"method {method} blacks out pixels: it explains image models that take "
                "pixels, not this model's input"
            )
        self.capture = capture
        self.path = path
        self.device = device
        self._step = compile_step(self._scores_step, [spec])

    @property
    def trace_count(self) -> int:
        return int(self._step.experimental_get_tracing_count())

    def scorer(self, scaling: Scaling, use_logit: bool) -> Scorer:
        """Pixels (M, H, W, C) before scaling -> (outputs, logit or output) (M, n)."""

        def score(pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with tf.device(self.device):
                outputs, logits = self._step(scaling(pixels.astype(np.float32)))
            outputs = outputs.numpy()
            return outputs, logits.numpy() if use_logit else outputs

        return score

    def _scores_step(self, inputs: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        return self.capture.forward(inputs, self.path, lambda activations: activations)
