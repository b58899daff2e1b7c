"""One compiled Grad-CAM function per (model, layer).

The forward pass, the gradient and the CAM math run in one `tf.function` with a fixed
input signature (batch dimension None). Targets, relu, counterfactual and the score
mode are tensors, so no request retraces it; only the small maps leave the graph.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from app.engine import cam as cam_math
from app.engine.fold import FoldPlan, plan_folding
from app.engine.graph import first_output, layer_at, output_layer, replay
from app.engine.layers import LayerRef, LayerSpec, resolve_layer
from app.engine.score import SCORE_MODES, LogitFn, logit_function
from app.engine.targets import Targets, expand_targets
from app.errors import InvalidInput


@dataclass(frozen=True)
class CamBatch:
    """Grad-CAM results: N maps for B input samples (N = B x targets per sample)."""

    predictions: np.ndarray  # (B, n_classes): the model's first output
    sample: np.ndarray  # (N,) int: the input sample of each map
    targets: np.ndarray  # (N,) int: class explained (top prediction resolved)
    scores: np.ndarray  # (N,) float: model output at the target
    cams: np.ndarray  # (N, *spatial): raw maps, after relu / counterfactual
    heatmaps: np.ndarray  # (N, *spatial): cams / (scale + 1e-7), in [0,1] or [-1,1]
    scales: np.ndarray  # (N,): max |cam| of each map

    def samples(self, start: int, stop: int) -> CamBatch:
        """The maps of input samples `start..stop-1`, renumbered from 0."""
        rows = (self.sample >= start) & (self.sample < stop)
        return CamBatch(
            predictions=self.predictions[start:stop],
            sample=self.sample[rows] - start,
            targets=self.targets[rows],
            scores=self.scores[rows],
            cams=self.cams[rows],
            heatmaps=self.heatmaps[rows],
            scales=self.scales[rows],
        )


class GradCam:
    """Grad-CAM for one model and one target layer, compiled once."""

    def __init__(
        self,
        model: keras.Model,
        layer: LayerSpec | LayerRef = None,
        *,
        name: str | None = None,
        device: str | None = None,
        fold: FoldPlan | None = None,
    ) -> None:
        self.model = model
        self.name = name or model.name
        self.device = device
        self.layer = layer if isinstance(layer, LayerRef) else resolve_layer(model, layer)
        # The explained layer's own output must be computed, so its pair stays unfolded.
        target = layer_at(model, self.layer.path)
        self._fold = (plan_folding(model, device) if fold is None else fold).without(target)
        self.n_classes = int(first_output(model.outputs).shape[-1])
        self._logit_fn: LogitFn | None = logit_function(output_layer(model))
        model_input = model.inputs[0]
        signature = [
            tf.TensorSpec([None, *model_input.shape[1:]], model_input.dtype, name="inputs"),
            tf.TensorSpec([None], tf.int32, name="targets"),
            tf.TensorSpec([], tf.bool, name="relu"),
            tf.TensorSpec([], tf.bool, name="counterfactual"),
            tf.TensorSpec([], tf.bool, name="use_logit"),
        ]
        self._step = tf.function(self._gradcam_step, input_signature=signature)

    @property
    def supports_logit(self) -> bool:
        return self._logit_fn is not None

    @property
    def trace_count(self) -> int:
        """How many times the compiled function was traced (1 after the first call)."""
        return int(self._step.experimental_get_tracing_count())

    def explain(
        self,
        inputs: np.ndarray,
        targets: Targets = None,
        *,
        relu: bool = True,
        counterfactual: bool = False,
        score: str = "logit",
    ) -> CamBatch:
        """Grad-CAM maps for a batch `inputs` (B, ...) already preprocessed for the model."""
        use_logit = self.check_score(score)
        sample, rows = expand_targets(len(inputs), targets, self.n_classes, self.name)
        batch = np.asarray(inputs)[sample]
        with tf.device(self.device):
            heat, scale, raw, preds, resolved, scores = self._step(
                batch, rows, relu, counterfactual, use_logit
            )
        first_row = np.searchsorted(sample, np.arange(len(inputs)))
        return CamBatch(
            predictions=preds.numpy()[first_row],
            sample=sample,
            targets=resolved.numpy(),
            scores=scores.numpy(),
            cams=raw.numpy(),
            heatmaps=heat.numpy(),
            scales=scale.numpy(),
        )

    def check_score(self, score: str) -> bool:
        """Whether `score` means the logit; an error when it is unknown or unavailable."""
        if score not in SCORE_MODES:
            raise InvalidInput(f"score must be one of {', '.join(SCORE_MODES)}, not {score!r}")
        if score == "logit" and not self.supports_logit:
            raise InvalidInput(
                f"score 'logit' is not available for model {self.name}: its last layer has "
                "no separable activation; use score 'output'"
            )
        return score == "logit"

    def _gradcam_step(
        self,
        inputs: tf.Tensor,
        targets: tf.Tensor,
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
    ) -> tuple[tf.Tensor, ...]:
        captured: dict[str, tf.Tensor] = {}
        with tf.GradientTape() as tape:

            def watch_target(activations: tf.Tensor) -> tf.Tensor:
                # Watched explicitly: a frozen (non-trainable) base records nothing otherwise.
                tape.watch(activations)
                captured["activations"] = activations
                return activations

            def keep_logits(layer: keras.layers.Layer, layer_input: tf.Tensor) -> None:
                if self._logit_fn is not None:
                    captured["logits"] = self._logit_fn(layer_input)

            outputs = replay(
                self.model, inputs, self.layer.path, watch_target, keep_logits, fold=self._fold
            )
            predictions = tf.cast(first_output(outputs), tf.float32)
            logits = tf.cast(captured.get("logits", predictions), tf.float32)
            top = tf.argmax(predictions, axis=-1, output_type=tf.int32)
            resolved = tf.where(targets < 0, top, targets)
            scored = tf.where(use_logit, logits, predictions)
            score = tf.gather(scored, resolved, axis=1, batch_dims=1)
        gradients = tape.gradient(score, captured["activations"])
        if gradients is None:
            raise InvalidInput(f"layer '{self.layer.name}' does not lead to the model output")
        activations = tf.cast(captured["activations"], tf.float32)
        gradients = tf.cast(gradients, tf.float32)
        raw = cam_math.gradcam_map(activations, gradients, relu, counterfactual)
        heatmaps, scales = cam_math.normalise(raw)
        output_scores = tf.gather(predictions, resolved, axis=1, batch_dims=1)
        return heatmaps, scales, raw, predictions, resolved, output_scores
