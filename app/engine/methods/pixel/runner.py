"""One compiled pass per (model, layer, pixel method), and the chunking of its rows.

The compiled function's signature is fixed (batch dimension None); targets, relu,
counterfactual, the score mode and every option (samples, noise, seed, steps, the
baseline inputs) are tensors, so no request retraces it. A method that runs the model on
`k` copies of each row (SmoothGrad's samples, the path points of Integrated Gradients)
gets at most `EXPANDED_ROWS // k` rows per call (at least one), and loops over the
copies inside the call a few model rows at a time (`attributions.summed_gradients`);
a request with more rows is a Python loop over compiled calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import tensorflow as tf

from app.engine.compiled import compile_step
from app.engine.methods.cam import normalise
from app.engine.methods.pixel.attributions import PixelCall, PixelContext, PixelResult
from app.engine.methods.pixel.options import PixelOptions, Scaling, baseline_inputs, draw_seed
from app.engine.targets.heads import RowTensors, step_results
from app.engine.targets.results import CamBatch, step_batch
from app.engine.targets.rows import TargetRows
from app.errors import InvalidInput

EXPANDED_ROWS = 64

Attribute = Callable[[PixelContext, PixelCall], PixelResult]


@dataclass(frozen=True)
class PixelMethod:
    attribute: Attribute
    copies: str | None = None  # the option giving copies per row: "samples" or "steps"
    token_ids: bool = False  # also for token-id inputs (through the first Embedding)
    keras_only: bool = False  # needs the Keras layers (not a frozen graph)
    image_only: bool = False  # needs (B, H, W, C) inputs
    uses_layer: bool = False  # needs a 2-D explained layer (Guided Grad-CAM's Grad-CAM)

    def expansion(self, options: PixelOptions) -> int:
        return 1 if self.copies is None else int(getattr(options, self.copies))


class PixelRunner:
    def __init__(self, name: str, method: PixelMethod, context: PixelContext) -> None:
        check_method(name, method, context)
        self.method = method
        self.context = context
        spec = context.capture.input_spec
        baselines = tf.TensorSpec(spec.shape, spec.dtype, name="baselines")
        signature = [
            spec,
            tf.TensorSpec([None], tf.int32, name="targets"),
            tf.TensorSpec([None, None], tf.float32, name="regions"),
            tf.TensorSpec([None, 4], tf.float32, name="boxes"),
            tf.TensorSpec([None], tf.int32, name="anchors"),
            tf.TensorSpec([], tf.bool, name="relu"),
            tf.TensorSpec([], tf.bool, name="counterfactual"),
            tf.TensorSpec([], tf.bool, name="use_logit"),
            baselines,
            tf.TensorSpec([], tf.int32, name="samples"),
            tf.TensorSpec([], tf.float32, name="noise"),
            tf.TensorSpec([2], tf.int32, name="seed"),
            tf.TensorSpec([], tf.int32, name="steps"),
        ]
        self._step = compile_step(self._pixel_step, signature)

    @property
    def trace_count(self) -> int:
        return int(self._step.experimental_get_tracing_count())

    def baselines(
        self, options: PixelOptions, pixels: np.ndarray | None, scaling: Scaling | None
    ) -> np.ndarray | None:
        """Integrated Gradients' baseline images (B, ...) as the model sees them; None for
        the other methods and for token ids (their baseline, id 0, is made in `run`)."""
        if self.method.copies != "steps":
            return None
        if (
            pixels is None
            or scaling is None
            or not self.context.capture.input_spec.dtype.is_floating
        ):
            if options.baseline is not None:
                raise InvalidInput(
                    "baseline applies to image models; a text model's baseline is token id 0"
                )
            return None
        return baseline_inputs(options.baseline, pixels, scaling)

    def run(
        self,
        inputs: np.ndarray,
        rows: TargetRows,
        flags: tuple[bool, bool, bool],
        options: PixelOptions,
        baselines: np.ndarray | None,
    ) -> CamBatch:
        """Maps of the `rows`; `flags` = (relu, counterfactual, use_logit); `baselines`
        (B, ...) the baseline inputs (None: zeros, e.g. token id 0)."""
        options.check()
        batch = np.asarray(inputs)[rows.sample]
        base = np.zeros_like(batch) if baselines is None else np.asarray(baselines)[rows.sample]
        knobs = (options.samples, options.noise, draw_seed(options.seed), options.steps)
        per_call = max(1, EXPANDED_ROWS // self.method.expansion(options))
        parts = []
        for i in range(0, len(batch), per_call):
            part = rows.take(np.arange(i, min(i + per_call, len(batch))))
            row_tensors = (part.target, part.region, part.box, part.anchor)
            chunk_base = base[i : i + per_call].astype(batch.dtype)
            chunk = batch[i : i + per_call]
            parts.append(self._step(chunk, *row_tensors, *flags, chunk_base, *knobs))
        cams = step_batch(parts, rows.sample, len(inputs), self.context.head)
        return cams if self.method.copies == "steps" else replace(cams, gaps=None)

    def _pixel_step(
        self,
        inputs: tf.Tensor,
        targets: tf.Tensor,
        regions: tf.Tensor,
        boxes: tf.Tensor,
        anchors: tf.Tensor,
        relu: tf.Tensor,
        counterfactual: tf.Tensor,
        use_logit: tf.Tensor,
        baselines: tf.Tensor,
        samples: tf.Tensor,
        noise: tf.Tensor,
        seed: tf.Tensor,
        steps: tf.Tensor,
    ) -> dict[str, object]:
        rows = RowTensors(targets, regions, boxes, anchors)
        call = PixelCall(
            inputs, rows, use_logit, counterfactual, baselines, samples, noise, seed, steps
        )
        result = self.method.attribute(self.context, call)
        raw = tf.where(relu, tf.nn.relu(result.raw), result.raw)
        heatmaps, scales = normalise(raw)
        found = step_results(heatmaps, scales, raw, result.outputs, result.scored)
        return {**found, "gaps": result.gaps}


def check_method(name: str, method: PixelMethod, context: PixelContext) -> None:
    """A 422 when `method` cannot run on this model."""
    spec = context.capture.input_spec
    if spec.dtype == tf.string:
        raise InvalidInput(
            f"method {name} needs the gradient at the pixels; this model's "
            "graph takes encoded image files"
        )
    if not spec.dtype.is_floating:
        if not method.token_ids:
            raise InvalidInput(
                f"method {name} needs a float (pixel) input; for a text model "
                "use integrated-gradients"
            )
        if context.capture.mask_path() is None:
            raise InvalidInput(f"method {name} on token ids needs an Embedding layer")
    if method.image_only and len(spec.shape) != 4:
        raise InvalidInput(f"method {name} explains image models (inputs (B, H, W, C))")
    layer = context.layer
    if method.uses_layer and layer.grid is None and len(layer.output_shape) != 4:
        raise InvalidInput(f"method {name} needs a 2-D layer (B, h, w, C); '{layer.name}' is not")
    if method.keras_only and context.model is None:
        raise InvalidInput(
            f"method {name} needs the model's Keras layers; this model is a "
            "SavedModel's frozen graph"
        )
