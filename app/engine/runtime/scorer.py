"""A local model's scorer for the black-box methods: one compiled forward, chunked.

The forward is the capture adapter's (the path the CAM methods score through), with
nothing replaced at the explained layer: every output and logit by name, which the
black-box methods score with the head (`app.engine.methods.blackbox`). One trace
per model and layer; the perturbed images of a request pass through it `CHUNK_ROWS`
at a time, scaled as the card says.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Capture, Outputs
from app.engine.compiled import compile_step
from app.engine.evaluation.faithfulness import Scaling
from app.engine.methods.blackbox import ImageForward
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

    def forward(self, scaling: Scaling) -> ImageForward:
        """Pixels (M, H, W, C) before scaling -> (outputs, logits) by name, (M, ...)."""

        def run(pixels: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
            with tf.device(self.device):
                outputs, logits = self._step(scaling(pixels.astype(np.float32)))
            return as_arrays(outputs), as_arrays(logits)

        return run

    def _scores_step(self, inputs: tf.Tensor) -> tuple[Outputs, Outputs]:
        return self.capture.forward(inputs, self.path, lambda activations: activations)


def as_arrays(values: Outputs) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in values.items()}
