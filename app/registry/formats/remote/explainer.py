"""The black-box methods on a remote model: its `:predict` answers are the score.

A `GradCam` to the batcher and the routes (same calls, same results), built without
TensorFlow: no layer, no compiled function. A gradient method is a 422 saying why.
The faithfulness metrics score masked images, so they come from the remote's answers too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from app.engine.evaluation.faithfulness import (
    DEFAULT_STEPS,
    Scaling,
    check_metrics,
    faithfulness,
)
from app.engine.layers.refs import LayerRef
from app.engine.methods import BLACKBOX_METHODS, DEFAULT_MAX_CHANNELS, get_method
from app.engine.methods.blackbox import BlackBoxOptions, explain_blackbox
from app.engine.methods.options import DEFAULT_OPTIONS
from app.engine.methods.pixel.options import PixelOptions
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.expand import Targets, expand_rows
from app.engine.targets.heads import Head
from app.engine.targets.results import CamBatch
from app.engine.targets.table import make_head
from app.errors import InvalidInput, RemoteModelFailed
from app.registry.formats.remote.model import RemoteModel

# What a remote model's maps are "of": the model input (black-box maps are per pixel).
INPUT_LAYER = "input"
PREDICTIONS = "predictions"  # the name of its one output


class RefusedForward:
    """The service's own `:predict` (and any local forward) does not relay to a remote
    model: a 422 naming where to send it."""

    def __init__(self, model: RemoteModel) -> None:
        self.model = model

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        raise InvalidInput(
            f"model {self.model.name} is remote: send :predict to {self.model.url} itself"
        )

    def outputs(self, inputs: np.ndarray) -> dict[str, np.ndarray]:
        return {PREDICTIONS: self(inputs)}


class RemoteExplainer(GradCam):
    def __init__(self, model: RemoteModel, method: str, head: Head | None = None) -> None:
        # No super().__init__: nothing to compile. The remote answers one (B, n) output.
        self.method = get_method(method)
        if method not in BLACKBOX_METHODS:
            raise InvalidInput(
                f"method {method} needs the model's gradients or layers; model {model.name} "
                f"is a remote endpoint ({model.url}) answering :predict only: use "
                f"{' or '.join(BLACKBOX_METHODS)}"
            )
        self.model = model
        self.remote = model
        self.name = model.name
        self.device = None
        self.layer = LayerRef((INPUT_LAYER,), model.input_shape, None)
        self.options = DEFAULT_OPTIONS
        self._supports_logit = False
        self.more = []  # no layers, so no layer list
        shapes = {PREDICTIONS: (None, model.n_classes)}
        self.head = make_head("classifier", PREDICTIONS, shapes)
        if head is not None and head.kind != "classifier":
            raise InvalidInput(
                f"model {model.name} is remote: its :predict answer is explained as a "
                f"classifier's, not as {head.kind}"
            )
        self.forward = RefusedForward(model)

    @property
    def n_classes(self) -> int:  # type: ignore[override]
        return self.remote.n_classes

    @property
    def trace_count(self) -> int:
        return 0

    def check_score(self, score: str) -> bool:
        if score != "output":
            raise InvalidInput(
                f"model {self.name} is remote: its score is the prediction it answers, "
                f"score 'output', not {score!r}"
            )
        return False

    def explain(
        self,
        inputs: np.ndarray,
        targets: Targets = None,
        *,
        relu: bool = True,
        counterfactual: bool = False,
        score: str = "output",
        max_channels: int = DEFAULT_MAX_CHANNELS,
        pixel: PixelOptions | None = None,
        baselines: np.ndarray | None = None,
        pixels: np.ndarray | None = None,
        scaling: Scaling | None = None,
        blackbox: BlackBoxOptions | None = None,
    ) -> CamBatch:
        """As `GradCam.explain`; `pixels` are what is perturbed and sent."""
        self.check_score(score)
        self.check_options(counterfactual, max_channels)
        if pixels is None:
            raise InvalidInput(f"model {self.name} explains images only")
        rows = expand_rows(len(pixels), targets, self.head, self.name)
        assert self.method.blackbox is not None

        def forward(batch: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
            outputs = {PREDICTIONS: self.predictions(batch)}
            return outputs, outputs

        limits = self.remote.client.limits
        return explain_blackbox(
            self.method.blackbox,
            forward,
            self.head,
            np.asarray(pixels, np.float32),
            rows,
            blackbox or BlackBoxOptions(),
            relu=relu,
            use_logit=False,
            chunk_rows=limits.batch * limits.concurrency,
        )

    def baselines(
        self, options: PixelOptions, pixels: np.ndarray | None, scaling: Scaling | None
    ) -> np.ndarray | None:
        return None  # no pixel-level method reaches a remote model

    def add_metrics(
        self,
        cams: CamBatch,
        pixels: np.ndarray,
        scaling: Scaling,
        metrics: Sequence[str],
        steps: int = DEFAULT_STEPS,
    ) -> CamBatch:
        """Faithfulness scores from the remote's predictions: every masked image (0..255
        pixels, scaled or PNG-encoded by `RemoteModel.predict` as the card says) goes
        out through the same batched calls as the method's perturbations. The four
        metrics need predictions only, so none is refused here."""
        check_metrics(metrics, steps)
        if not metrics:
            return cams
        limits = self.remote.client.limits
        values = faithfulness(
            self.predictions,
            unscaled,  # the remote model's `predict` scales (or encodes) the pixels itself
            np.asarray(pixels, np.float32),
            cams.sample,
            cams.targets,
            cams.scores,
            cams.heatmaps,
            metrics,
            steps,
            chunk=limits.batch * limits.concurrency,
        )
        return replace(cams, metrics=values)

    def predictions(self, pixels: np.ndarray) -> np.ndarray:
        """The remote's predictions `(M, n)` for pixels `(M, H, W, C)` 0..255."""
        predictions = self.remote.predict(pixels)
        if predictions.shape[1] != self.n_classes:
            raise_changed(self.remote, predictions.shape[1])
        return np.asarray(predictions, np.float32)


def unscaled(pixels: np.ndarray) -> np.ndarray:
    return pixels


def raise_changed(model: RemoteModel, classes: int) -> None:
    raise RemoteModelFailed(
        f"remote model {model.url} answered {classes} classes; it answered "
        f"{model.n_classes} when it was loaded"
    )
