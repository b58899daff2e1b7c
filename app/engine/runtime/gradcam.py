"""One compiled CAM function per (model, layer, method).

For the gradient methods and Eigen-CAM, the forward pass, the gradient and the method's
map run in one `tf.function` with a fixed input signature (batch dimension None).
Targets, relu, counterfactual and the score mode are tensors, so no request retraces
it; only the small maps leave the graph. Score-CAM and Ablation-CAM run their perturbed
inputs through compiled calls of their own (`app.engine.methods.perturbation`), occlusion
and RISE through one compiled forward (`app.engine.runtime.scorer`). The model
is reached through a capture adapter (`app.engine.capture`): a Keras model replayed layer
by layer, or a SavedModel's frozen graph imported into the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import partial

import keras
import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Capture, Forward, Outputs, ScoreOf
from app.engine.capture.frozen.capture import FrozenCapture, FrozenForward
from app.engine.capture.frozen.model import FrozenModel
from app.engine.capture.keras.capture import KerasCapture
from app.engine.capture.keras.fold import FoldPlan, plan_folding
from app.engine.capture.keras.forward import ModelForward
from app.engine.compiled import compile_step
from app.engine.evaluation.faithfulness import DEFAULT_STEPS, Scaling, check_metrics, faithfulness
from app.engine.evaluation.head_scores import head_row_score
from app.engine.layers.graph import layer_at, output_shapes
from app.engine.layers.lookup import resolve_layer
from app.engine.layers.refs import LayerRef, LayerSpec
from app.engine.methods import DEFAULT_MAX_CHANNELS, check_method_options, get_method
from app.engine.methods import cam as cam_math
from app.engine.methods.attention import AttentionContext
from app.engine.methods.blackbox import BlackBoxOptions, explain_blackbox
from app.engine.methods.kpca import MAX_POSITIONS
from app.engine.methods.options import DEFAULT_OPTIONS, CamOptions
from app.engine.methods.perturbation import ModelContext, combine_channels
from app.engine.methods.pixel.attributions import PixelContext
from app.engine.methods.pixel.options import PixelOptions
from app.engine.methods.pixel.runner import PixelRunner
from app.engine.runtime import view_steps
from app.engine.runtime.scorer import CHUNK_ROWS, LocalScorer
from app.engine.runtime.views import view_list
from app.engine.targets.defaults import default_targets, needs_outputs
from app.engine.targets.expand import Targets, expand_rows, sample_lists
from app.engine.targets.heads import Head, RowTensors, Scored, step_results
from app.engine.targets.results import CamBatch, step_batch
from app.engine.targets.rows import TargetRows
from app.engine.targets.score import SCORE_MODES
from app.engine.targets.table import make_head
from app.errors import InvalidInput


class GradCam:
    """One CAM method (Grad-CAM by default) for one model and target layer, compiled once."""

    def __init__(
        self,
        model: keras.Model | FrozenModel,
        layer: LayerSpec | LayerRef = None,
        *,
        method: str = "gradcam",
        name: str | None = None,
        device: str | None = None,
        fold: FoldPlan | None = None,
        forward: Forward | None = None,
        options: CamOptions = DEFAULT_OPTIONS,
        more_layers: Sequence[LayerRef] = (),
        at_input: bool = False,
        head: Head | None = None,
    ) -> None:
        """`options`: pytorch-grad-cam's options (`app.engine.methods.options`);
        `more_layers`: further target layers, their maps combined with this layer's at
        the input's resolution (`app.engine.runtime.views`), as is every map with
        `aug_smooth` or `at_input`."""
        self.model = model
        self.method = get_method(method)
        check_method_options(self.method.name, options)
        self.options = options
        self.name = name or model.name
        self.device = device
        self.capture: Capture
        self.forward: Forward
        if isinstance(model, FrozenModel):
            self._capture_frozen(model, layer, forward)
            shapes = model.output_shapes
        else:
            self._capture_keras(model, layer, fold, forward)
            shapes = output_shapes(model)
        # Without a card's head: the first output, as a classifier (ELI5's behaviour).
        self.head = head or make_head("classifier", next(iter(shapes)), shapes)
        self.n_classes = self.head.n_classes
        self._supports_logit = self.capture.has_logit(self.head.output)
        signature = [
            self.capture.input_spec,
            tf.TensorSpec([None], tf.int32, name="targets"),
            tf.TensorSpec([None, None], tf.float32, name="regions"),
            tf.TensorSpec([None, 4], tf.float32, name="boxes"),
            tf.TensorSpec([None], tf.int32, name="anchors"),
            tf.TensorSpec([], tf.bool, name="relu"),
            tf.TensorSpec([], tf.bool, name="counterfactual"),
            tf.TensorSpec([], tf.bool, name="use_logit"),
        ]
        self._raw_map = self.method.map_for(options)
        self._target_score = (
            None if self.method.target_score is None else self.method.target_score(options)
        )
        self.views = view_list(options.aug_smooth)
        self._at_input = at_input or options.aug_smooth or bool(more_layers)
        if self._at_input:
            self._check_at_input()
        if self.method.name == "kpcacam":
            self._check_kpca_positions()
        if self._target_score is not None and self.head.kind != "classifier":
            raise InvalidInput(
                f"method {self.method.name} compares a classifier's classes (a softmax over "
                f"them); output {self.head.output!r} of model {self.name} is {self.head.kind}"
            )
        step = self._gradcam_step
        if self._at_input:
            step = partial(view_steps.views_step, self)
        self.step = compile_step(step, signature)
        if self.method.attention is not None:  # its own compiled pass, same signature
            if isinstance(model, FrozenModel):
                raise InvalidInput(
                    f"method {self.method.name} recomputes Keras MultiHeadAttention layers; "
                    f"model {self.name} is a SavedModel's frozen graph"
                )
            attention = self.method.attention(AttentionContext(model, self.layer, self.head))
            self.step = compile_step(attention.step, signature)
        self._pixel = None
        if self.method.pixel is not None:  # its own compiled pass, more options
            keras_model = None if isinstance(model, FrozenModel) else model
            pixels = PixelContext(self.capture, self.layer, keras_model, self.head)
            self._pixel = PixelRunner(self.method.name, self.method.pixel, pixels)
        self.perturbation = None
        if self.method.perturbation is not None:
            grid = self.layer.grid
            spatial = tuple(self.layer.output_shape[1:-1]) if grid is None else grid.shape
            channels = None if grid is None else self.layer.output_shape[-1]
            context = ModelContext(self.capture, self.layer.path, spatial, grid, channels)
            self.perturbation = self.method.perturbation(context)
        self._scorer = None
        if self.method.blackbox is not None:
            self._scorer = LocalScorer(self.capture, self.layer.path, device, self.method.name)
        self.more = [
            GradCam(
                model,
                ref,
                method=method,
                name=self.name,
                device=device,
                fold=fold,
                forward=self.forward,
                options=options,
                at_input=True,
                head=self.head,
            )
            for ref in more_layers
        ]

    @property
    def layer_name(self) -> str:
        """The target layer's name; several layers: their names joined by commas."""
        return ",".join([self.layer.name, *(more.layer.name for more in self.more)])

    def _check_at_input(self) -> None:
        """Maps at the input's resolution need an image model with float inputs."""
        spec = self.capture.input_spec
        if len(spec.shape) != 4 or not spec.dtype.is_floating:
            raise InvalidInput(
                "aug_smooth and several layers need an image model that takes pixels; "
                f"model {self.name} takes {spec.dtype.name} inputs of rank {len(spec.shape)}"
            )
        if self.method.attention is not None:
            raise InvalidInput(f"method {self.method.name} takes no aug_smooth or layer list")
        if self.method.pixel is not None or self.method.blackbox is not None:
            raise InvalidInput(
                f"method {self.method.name} maps the input's pixels: it takes no layer list"
            )

    def _check_kpca_positions(self) -> None:
        grid = self.layer.grid
        spatial = self.layer.output_shape[1:-1] if grid is None else grid.shape
        positions = int(np.prod([dim or 1 for dim in spatial]))
        if positions > MAX_POSITIONS:
            raise InvalidInput(
                f"kpcacam builds a positions x positions kernel matrix; layer "
                f"'{self.layer.name}' has {positions} positions, at most {MAX_POSITIONS}"
            )

    def _capture_frozen(
        self, model: FrozenModel, layer: LayerSpec | LayerRef, forward: Forward | None
    ) -> None:
        """A SavedModel's frozen graph, imported in the compiled functions."""
        self.layer = layer if isinstance(layer, LayerRef) else model.resolve(layer)
        self.capture = FrozenCapture(model, self.layer.path)
        self.forward = forward or FrozenForward(model, device=self.device)

    def _capture_keras(
        self,
        model: keras.Model,
        layer: LayerSpec | LayerRef,
        fold: FoldPlan | None,
        forward: Forward | None,
    ) -> None:
        """A Keras model replayed with its BatchNormalizations folded."""
        self.layer = layer if isinstance(layer, LayerRef) else resolve_layer(model, layer)
        # The explained layer's own output must be computed, so its pair stays unfolded.
        target = layer_at(model, self.layer.path)
        self._fold = (plan_folding(model, self.device) if fold is None else fold).without(target)
        self.forward = forward or ModelForward(model, device=self.device, fold=self._fold)
        self.capture = KerasCapture(model, self.layer.path, self._fold)

    @property
    def supports_logit(self) -> bool:
        return bool(self._supports_logit)

    @property
    def trace_count(self) -> int:
        """How many times the compiled functions were traced (1 or 2 after the first call)."""
        more = sum(cam.trace_count for cam in self.more)
        if self.perturbation is not None:
            return self.perturbation.trace_count + more
        if self._pixel is not None:
            return self._pixel.trace_count
        if self._scorer is not None:
            return self._scorer.trace_count
        return int(self.step.experimental_get_tracing_count()) + more

    def explain(
        self,
        inputs: np.ndarray,
        targets: Targets = None,
        *,
        relu: bool = True,
        counterfactual: bool = False,
        score: str = "logit",
        max_channels: int = DEFAULT_MAX_CHANNELS,
        pixel: PixelOptions | None = None,
        baselines: np.ndarray | None = None,
        pixels: np.ndarray | None = None,
        scaling: Scaling | None = None,
        blackbox: BlackBoxOptions | None = None,
    ) -> CamBatch:
        """Maps for a batch `inputs` (B, ...) already preprocessed for the model.

        `max_channels` bounds the channels Score-CAM and Ablation-CAM perturb (at most
        the layer's); the other methods ignore it. `pixel` holds the pixel-level methods'
        options, `baselines` (B, ...) Integrated Gradients' baseline inputs (None: zeros).
        Occlusion and RISE perturb `pixels` (B, H, W, C), the inputs before `scaling`, as
        `blackbox` says; maps (N, H, W). Every method scores the rows through the head.
        """
        use_logit = self.check_score(score)
        self.check_options(counterfactual, max_channels)
        rows = self.target_rows(inputs, targets)
        if self._scorer is not None:
            assert self.method.blackbox is not None
            if pixels is None or scaling is None:
                raise InvalidInput(f"method {self.method.name} explains images only")
            return explain_blackbox(
                self.method.blackbox,
                self._scorer.forward(scaling),
                self.head,
                np.asarray(pixels, np.float32),
                rows,
                blackbox or BlackBoxOptions(),
                relu=relu,
                use_logit=use_logit,
                chunk_rows=CHUNK_ROWS,
            )
        if self._pixel is not None:
            flags = (relu, counterfactual, use_logit)
            with tf.device(self.device):
                return self._pixel.run(inputs, rows, flags, pixel or PixelOptions(), baselines)
        if self._at_input:
            flags = (relu, counterfactual, use_logit)
            return view_steps.explain_at_input(self, np.asarray(inputs), rows, flags, max_channels)
        if self.perturbation is not None:
            with tf.device(self.device):
                scores = self.perturbation.run(np.asarray(inputs), max_channels)
            assert self.method.weights is not None
            return combine_channels(
                scores, self.method.weights, rows, relu, use_logit, self.head,
                smooth=self.options.eigen_smooth,
            )  # fmt: skip
        batch = np.asarray(inputs)[rows.sample]
        with tf.device(self.device):
            found = self.step(
                batch, rows.target, rows.region, rows.box, rows.anchor, relu, counterfactual,
                use_logit,
            )  # fmt: skip
        return step_batch([found], rows.sample, len(inputs), self.head)

    def target_rows(self, inputs: np.ndarray, targets: Targets) -> TargetRows:
        """The rows to explain; without targets, the head's defaults (multilabel,
        segmentation and detection read the outputs first: one plain forward pass)."""
        if self.head.kind != "classifier":
            per_sample = sample_lists(len(inputs), targets)
            if any(t is None for t in per_sample):
                outputs = self.forward.outputs(inputs) if needs_outputs(self.head) else {}
                defaults = default_targets(self.head, outputs, len(inputs))
                per_sample = [
                    d if t is None else t for t, d in zip(per_sample, defaults, strict=True)
                ]
            targets = per_sample
        return expand_rows(len(inputs), targets, self.head, self.name)

    def baselines(
        self, options: PixelOptions, pixels: np.ndarray | None, scaling: Scaling | None
    ) -> np.ndarray | None:
        """Integrated Gradients' baseline inputs (B, ...) from the images' `pixels` (B, H,
        W, C) 0..255 and the model's `scaling`; None for every other method."""
        return None if self._pixel is None else self._pixel.baselines(options, pixels, scaling)

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
            row_score=head_row_score(self.forward, self.head, cams),
        )
        return replace(cams, metrics=values)

    def check_options(self, counterfactual: bool, max_channels: int) -> None:
        if counterfactual and not self.method.uses_gradients:
            raise InvalidInput(
                f"counterfactual negates gradients; method {self.method.name} uses none"
            )
        if counterfactual and not self.method.signed:
            raise InvalidInput(
                f"counterfactual negates gradients; method {self.method.name} maps |gradient|"
            )
        if isinstance(max_channels, bool) or not isinstance(max_channels, int | np.integer):
            raise InvalidInput(f"max_channels must be an integer, not {max_channels!r}")
        if max_channels < 1:
            raise InvalidInput(f"max_channels must be at least 1, not {max_channels}")

    def _gradcam_step(
        self,
        inputs: tf.Tensor,
        targets: tf.Tensor,
        regions: tf.Tensor,
        boxes: tf.Tensor,
        anchors: tf.Tensor,
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
    ) -> dict[str, object]:
        rows = RowTensors(targets, regions, boxes, anchors)
        found: dict[str, Scored] = {}

        def score_of(outputs: Outputs, logits: Outputs) -> tf.Tensor:
            found["scored"] = self.head.score(outputs, logits, rows, use_logit)
            return self.method_score(outputs, logits, found["scored"], use_logit)

        raw, outputs = self.raw_maps(inputs, score_of, relu, counterfactual)
        heatmaps, scales = cam_math.normalise(raw)
        return step_results(heatmaps, scales, raw, outputs, found["scored"])

    def method_score(
        self, outputs: Outputs, logits: Outputs, scored: Scored, use_logit: tf.Tensor
    ) -> tf.Tensor:
        """What is differentiated: the head's score, or the method's own comparison of
        the classifier's classes (FinerCAM) at the row's resolved class."""
        if self._target_score is None:
            return scored.score
        name = self.head.output
        scores = tf.where(use_logit, logits[name], outputs[name])
        return self._target_score(scores, scored.target)

    def raw_maps(
        self,
        inputs: tf.Tensor,
        score_of: ScoreOf,
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
    ) -> tuple[tf.Tensor, Outputs]:
        """(raw maps `(N, *spatial)`, every output `(N, ...)`) with `score_of` differentiated."""
        uses_gradients = self.method.uses_gradients
        captured, grads, outputs = self.capture.gradients(inputs, score_of, uses_gradients)
        activations = tf.cast(captured, tf.float32)
        gradients = tf.zeros_like(activations)
        if uses_gradients:
            if grads is None:
                raise InvalidInput(f"layer '{self.layer.name}' does not lead to the model output")
            if self.method.corrected_gradients is not None:
                grads = self.method.corrected_gradients(captured, grads)
            gradients = tf.cast(grads, tf.float32)
        if self.layer.grid is not None:  # token layer: every method sees (B, h, w, C)
            activations = self.layer.grid.to_grid(activations)
            gradients = self.layer.grid.to_grid(gradients)
        assert self._raw_map is not None
        raw = cam_math.method_map(self._raw_map, activations, gradients, relu, counterfactual)
        return raw, outputs
