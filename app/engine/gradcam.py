"""One compiled CAM function per (model, layer, method).

For the gradient methods and Eigen-CAM, the forward pass, the gradient and the method's
map run in one `tf.function` with a fixed input signature (batch dimension None).
Targets, relu, counterfactual and the score mode are tensors, so no request retraces
it; only the small maps leave the graph. Score-CAM and Ablation-CAM run their perturbed
inputs through compiled calls of their own (`app.engine.methods.perturbation`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import keras
import numpy as np
import tensorflow as tf

from app.engine import cam as cam_math
from app.engine.faithfulness import DEFAULT_STEPS, Scaling, check_metrics, faithfulness
from app.engine.fold import FoldPlan, plan_folding
from app.engine.forward import ModelForward
from app.engine.graph import first_output, layer_at, output_layer, replay
from app.engine.layers import LayerRef, LayerSpec, resolve_layer
from app.engine.methods import DEFAULT_MAX_CHANNELS, get_method
from app.engine.methods.attention import AttentionContext
from app.engine.methods.perturbation import ModelContext, combine_channels
from app.engine.results import CamBatch
from app.engine.score import SCORE_MODES, LogitFn, logit_function
from app.engine.targets import Targets, expand_targets
from app.errors import InvalidInput


class GradCam:
    """One CAM method (Grad-CAM by default) for one model and target layer, compiled once."""

    def __init__(
        self,
        model: keras.Model,
        layer: LayerSpec | LayerRef = None,
        *,
        method: str = "gradcam",
        name: str | None = None,
        device: str | None = None,
        fold: FoldPlan | None = None,
        forward: ModelForward | None = None,
    ) -> None:
        self.model = model
        self.method = get_method(method)
        self.name = name or model.name
        self.device = device
        self.layer = layer if isinstance(layer, LayerRef) else resolve_layer(model, layer)
        # The explained layer's own output must be computed, so its pair stays unfolded.
        target = layer_at(model, self.layer.path)
        self._fold = (plan_folding(model, device) if fold is None else fold).without(target)
        self.forward = forward or ModelForward(model, device=device, fold=self._fold)
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
        if self.method.attention is not None:  # its own compiled pass, same signature
            attention = self.method.attention(AttentionContext(model, self.layer, self._logit_fn))
            self._step = tf.function(attention.step, input_signature=signature)
        self._perturbation = None
        if self.method.perturbation is not None:
            grid = self.layer.grid
            spatial = tuple(self.layer.output_shape[1:-1]) if grid is None else grid.shape
            context = ModelContext(
                model, self.layer.path, spatial, self._fold, self._logit_fn, grid=grid
            )
            self._perturbation = self.method.perturbation(context)

    @property
    def supports_logit(self) -> bool:
        return self._logit_fn is not None

    @property
    def trace_count(self) -> int:
        """How many times the compiled functions were traced (1 or 2 after the first call)."""
        if self._perturbation is not None:
            return self._perturbation.trace_count
        return int(self._step.experimental_get_tracing_count())

    def explain(
        self,
        inputs: np.ndarray,
        targets: Targets = None,
        *,
        relu: bool = True,
        counterfactual: bool = False,
        score: str = "logit",
        max_channels: int = DEFAULT_MAX_CHANNELS,
    ) -> CamBatch:
        """Maps for a batch `inputs` (B, ...) already preprocessed for the model.

        `max_channels` bounds the channels Score-CAM and Ablation-CAM perturb (at most
        the layer's); the other methods ignore it.
        """
        use_logit = self.check_score(score)
        self.check_options(counterfactual, max_channels)
        sample, rows = expand_targets(len(inputs), targets, self.n_classes, self.name)
        if self._perturbation is not None:
            with tf.device(self.device):
                scores = self._perturbation.run(np.asarray(inputs), max_channels)
            assert self.method.weights is not None
            return combine_channels(scores, self.method.weights, sample, rows, relu, use_logit)
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

    def add_metrics(
        self,
        cams: CamBatch,
        pixels: np.ndarray,
        scaling: Scaling,
        metrics: Sequence[str],
        steps: int = DEFAULT_STEPS,
    ) -> CamBatch:
        """`cams` with faithfulness scores of its maps; `pixels` (B, H, W, C) unscaled."""
        check_metrics(metrics, steps)
        if not metrics:
            return cams
        if cams.heatmaps.ndim != 3:
            raise InvalidInput("faithfulness metrics are computed for image models only")
        values = faithfulness(
            self.forward,
            scaling,
            pixels,
            cams.sample,
            cams.targets,
            cams.scores,
            cams.heatmaps,
            metrics,
            steps,
        )
        return replace(cams, metrics=values)

    def check_options(self, counterfactual: bool, max_channels: int) -> None:
        if counterfactual and not self.method.uses_gradients:
            raise InvalidInput(
                f"counterfactual negates gradients; method {self.method.name} uses none"
            )
        if isinstance(max_channels, bool) or not isinstance(max_channels, int | np.integer):
            raise InvalidInput(f"max_channels must be an integer, not {max_channels!r}")
        if max_channels < 1:
            raise InvalidInput(f"max_channels must be at least 1, not {max_channels}")

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
        activations = tf.cast(captured["activations"], tf.float32)
        gradients = tf.zeros_like(activations)
        if self.method.uses_gradients:
            gradients = tape.gradient(score, captured["activations"])
            if gradients is None:
                raise InvalidInput(f"layer '{self.layer.name}' does not lead to the model output")
            gradients = tf.cast(gradients, tf.float32)
        if self.layer.grid is not None:  # token layer: every method sees (B, h, w, C)
            activations = self.layer.grid.to_grid(activations)
            gradients = self.layer.grid.to_grid(gradients)
        assert self.method.raw_map is not None
        raw = cam_math.method_map(self.method.raw_map, activations, gradients, relu, counterfactual)
        heatmaps, scales = cam_math.normalise(raw)
        output_scores = tf.gather(predictions, resolved, axis=1, batch_dims=1)
        return heatmaps, scales, raw, predictions, resolved, output_scores
