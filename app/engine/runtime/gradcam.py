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

from collections.abc import Callable, Sequence
from dataclasses import replace

import keras
import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Capture, Forward
from app.engine.capture.frozen.capture import FrozenCapture, FrozenForward
from app.engine.capture.frozen.model import FrozenModel
from app.engine.capture.keras.capture import KerasCapture
from app.engine.capture.keras.fold import FoldPlan, plan_folding
from app.engine.capture.keras.forward import ModelForward
from app.engine.compiled import compile_step
from app.engine.evaluation.faithfulness import DEFAULT_STEPS, Scaling, check_metrics, faithfulness
from app.engine.layers.graph import first_output, layer_at, output_layer
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
from app.engine.runtime.scorer import CHUNK_ROWS, LocalScorer
from app.engine.runtime.views import (
    augment,
    combine_views,
    identity_view,
    view_list,
    views_at_input,
)
from app.engine.targets.expand import Targets, expand_targets
from app.engine.targets.results import CamBatch
from app.engine.targets.score import SCORE_MODES, LogitFn, logit_function
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
        self._logit_fn: LogitFn | None
        self.forward: Forward
        if isinstance(model, FrozenModel):
            self._capture_frozen(model, layer, forward)
        else:
            self._capture_keras(model, layer, fold, forward)
        signature = [
            self.capture.input_spec,
            tf.TensorSpec([None], tf.int32, name="targets"),
            tf.TensorSpec([], tf.bool, name="relu"),
            tf.TensorSpec([], tf.bool, name="counterfactual"),
            tf.TensorSpec([], tf.bool, name="use_logit"),
        ]
        self._raw_map = self.method.map_for(options)
        self._target_score = (
            None if self.method.target_score is None else self.method.target_score(options)
        )
        self._views = view_list(options.aug_smooth)
        self._at_input = at_input or options.aug_smooth or bool(more_layers)
        if self._at_input:
            self._check_at_input()
        if self.method.name == "kpcacam":
            self._check_kpca_positions()
        step = self._views_step if self._at_input else self._gradcam_step
        self._step = compile_step(step, signature)
        if self.method.attention is not None:  # its own compiled pass, same signature
            if isinstance(model, FrozenModel):
                raise InvalidInput(
                    f"method {self.method.name} recomputes Keras MultiHeadAttention layers; "
                    f"model {self.name} is a SavedModel's frozen graph"
                )
            attention = self.method.attention(AttentionContext(model, self.layer, self._logit_fn))
            self._step = compile_step(attention.step, signature)
        self._pixel = None
        if self.method.pixel is not None:  # its own compiled pass, more options
            keras_model = None if isinstance(model, FrozenModel) else model
            pixels = PixelContext(self.capture, self.layer, keras_model, self._logit_fn)
            self._pixel = PixelRunner(self.method.name, self.method.pixel, pixels)
        self._perturbation = None
        if self.method.perturbation is not None:
            grid = self.layer.grid
            spatial = tuple(self.layer.output_shape[1:-1]) if grid is None else grid.shape
            channels = None if grid is None else self.layer.output_shape[-1]
            context = ModelContext(self.capture, self.layer.path, spatial, grid, channels)
            self._perturbation = self.method.perturbation(context)
        self._scorer = None
        if self.method.blackbox is not None:
            self._scorer = LocalScorer(self.capture, self.layer.path, device, self.method.name)
        self._more = [
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
            )
            for ref in more_layers
        ]

    @property
    def layer_name(self) -> str:
        """The target layer's name; several layers: their names joined by commas."""
        return ",".join([self.layer.name, *(more.layer.name for more in self._more)])

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
        self.n_classes = model.n_classes
        self._supports_logit = True  # the Softmax/Sigmoid input, else the output
        self._logit_fn = None

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
        self.n_classes = int(first_output(model.outputs).shape[-1])
        self._logit_fn = logit_function(output_layer(model))
        self._supports_logit = self._logit_fn is not None
        self.capture = KerasCapture(model, self.layer.path, self._fold, self._logit_fn)

    @property
    def supports_logit(self) -> bool:
        return self._supports_logit

    @property
    def trace_count(self) -> int:
        """How many times the compiled functions were traced (1 or 2 after the first call)."""
        more = sum(cam.trace_count for cam in self._more)
        if self._perturbation is not None:
            return self._perturbation.trace_count + more
        if self._pixel is not None:
            return self._pixel.trace_count
        if self._scorer is not None:
            return self._scorer.trace_count
        return int(self._step.experimental_get_tracing_count()) + more

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
        `blackbox` says; maps (N, H, W).
        """
        use_logit = self.check_score(score)
        self.check_options(counterfactual, max_channels)
        sample, rows = expand_targets(len(inputs), targets, self.n_classes, self.name)
        if self._scorer is not None:
            assert self.method.blackbox is not None
            if pixels is None or scaling is None:
                raise InvalidInput(f"method {self.method.name} explains images only")
            with tf.device(self.device):
                return explain_blackbox(
                    self.method.blackbox,
                    self._scorer.scorer(scaling, use_logit),
                    np.asarray(pixels, np.float32),
                    sample,
                    rows,
                    blackbox or BlackBoxOptions(),
                    relu=relu,
                    chunk_rows=CHUNK_ROWS,
                )
        if self._pixel is not None:
            flags = (relu, counterfactual, use_logit)
            with tf.device(self.device):
                return self._pixel.run(
                    inputs, sample, rows, flags, pixel or PixelOptions(), baselines
                )
        if self._at_input:
            return self._explain_at_input(
                np.asarray(inputs), sample, rows, relu, counterfactual, use_logit, max_channels
            )
        if self._perturbation is not None:
            with tf.device(self.device):
                scores = self._perturbation.run(np.asarray(inputs), max_channels)
            assert self.method.weights is not None
            return combine_channels(
                scores,
                self.method.weights,
                sample,
                rows,
                relu,
                use_logit,
                smooth=self.options.eigen_smooth,
            )
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
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
    ) -> tuple[tf.Tensor, ...]:
        def resolve(predictions: tf.Tensor) -> tf.Tensor:
            top = tf.argmax(predictions, axis=-1, output_type=tf.int32)
            return tf.where(targets < 0, top, targets)

        raw, predictions, resolved = self._raw(inputs, resolve, relu, counterfactual, use_logit)
        heatmaps, scales = cam_math.normalise(raw)
        output_scores = tf.gather(predictions, resolved, axis=1, batch_dims=1)
        return heatmaps, scales, raw, predictions, resolved, output_scores

    def _views_step(
        self,
        inputs: tf.Tensor,
        targets: tf.Tensor,
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
    ) -> tuple[tf.Tensor, ...]:
        """The maps of every view at the input's resolution `(V, N, H, W)`; predictions,
        targets and output scores `(N, ...)` of the view that is the input itself (a
        top target is that view's top class, explained in every view)."""
        views = self._views
        rows = tf.shape(inputs)[0]
        first = identity_view(views) * rows

        def resolve(predictions: tf.Tensor) -> tf.Tensor:
            plain = predictions[first : first + rows]
            top = tf.argmax(plain, axis=-1, output_type=tf.int32)
            return tf.tile(tf.where(targets < 0, top, targets), [len(views)])

        augmented = augment(inputs, views)
        raw, predictions, resolved = self._raw(augmented, resolve, relu, counterfactual, use_logit)
        maps = views_at_input(raw, tf.shape(inputs)[1:3], views)
        plain_predictions = predictions[first : first + rows]
        plain_targets = resolved[:rows]
        scores = tf.gather(plain_predictions, plain_targets, axis=1, batch_dims=1)
        return maps, plain_predictions, plain_targets, scores

    def _raw(
        self,
        inputs: tf.Tensor,
        resolve: Callable[[tf.Tensor], tf.Tensor],
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
    ) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """(raw maps `(N, *spatial)`, predictions `(N, n)`, targets `(N,)`); `resolve`
        turns the predictions into the explained class of every row."""
        resolved: dict[str, tf.Tensor] = {}
        target_score = self._target_score

        def score_of(predictions: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
            resolved["targets"] = resolve(predictions)
            scored = tf.where(use_logit, logits, predictions)
            if target_score is not None:
                return target_score(scored, resolved["targets"])
            return tf.gather(scored, resolved["targets"], axis=1, batch_dims=1)

        uses_gradients = self.method.uses_gradients
        captured, grads, predictions = self.capture.gradients(inputs, score_of, uses_gradients)
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
        return raw, predictions, resolved["targets"]

    def _explain_at_input(
        self,
        inputs: np.ndarray,
        sample: np.ndarray,
        rows: np.ndarray,
        relu: bool,
        counterfactual: bool,
        use_logit: bool,
        max_channels: int,
    ) -> CamBatch:
        """Maps at the input's resolution, combined over views and layers."""
        maps, predictions, resolved, scores = self.view_maps(
            inputs, sample, rows, relu, counterfactual, use_logit, max_channels
        )
        per_layer = [maps]
        for more in self._more:
            per_layer.append(
                more.view_maps(
                    inputs, sample, resolved, relu, counterfactual, use_logit, max_channels
                )[0]
            )
        cams = combine_views(per_layer)
        scales = cams.reshape(len(cams), -1).max(axis=1)
        heatmaps = cams / (scales.reshape(-1, 1, 1) + cam_math.EPSILON)
        return CamBatch(
            predictions=predictions,
            sample=sample,
            targets=resolved,
            scores=scores,
            cams=cams,
            heatmaps=heatmaps.astype(np.float32),
            scales=scales,
        )

    def view_maps(
        self,
        inputs: np.ndarray,
        sample: np.ndarray,
        rows: np.ndarray,
        relu: bool,
        counterfactual: bool,
        use_logit: bool,
        max_channels: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """This layer's maps of every view `(V, N, H, W)` (`app.engine.runtime.views`),
        the predictions `(B, n)` and, per row, the target and output score."""
        first_row = np.searchsorted(sample, np.arange(len(inputs)))
        if self._perturbation is not None:
            return self._perturbation_views(inputs, sample, rows, relu, use_logit, max_channels)
        with tf.device(self.device):
            maps, preds, resolved, scores = self._step(
                inputs[sample], rows, relu, counterfactual, use_logit
            )
        return maps.numpy(), preds.numpy()[first_row], resolved.numpy(), scores.numpy()

    def _perturbation_views(
        self,
        inputs: np.ndarray,
        sample: np.ndarray,
        rows: np.ndarray,
        relu: bool,
        use_logit: bool,
        max_channels: int,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Score-CAM / Ablation-CAM on every view of the B inputs (one run)."""
        assert self._perturbation is not None and self.method.weights is not None
        views, count = self._views, len(inputs)
        with tf.device(self.device):
            augmented = augment(tf.constant(inputs), views).numpy()
            channel_scores = self._perturbation.run(augmented, max_channels)
        first = identity_view(views) * count
        plain = channel_scores.outputs[first : first + count]
        resolved = np.where(rows < 0, plain.argmax(axis=1)[sample], rows).astype(np.int32)
        view_sample = np.concatenate([sample + index * count for index in range(len(views))])
        cams = combine_channels(
            channel_scores,
            self.method.weights,
            view_sample,
            np.tile(resolved, len(views)),
            relu,
            use_logit,
            smooth=self.options.eigen_smooth,
        )
        maps = views_at_input(tf.constant(cams.cams), tf.constant(inputs.shape[1:3]), views)
        return maps.numpy(), plain, resolved, plain[sample, resolved]
