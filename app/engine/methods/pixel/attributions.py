"""One function per pixel-level method: a compiled call's tensors in, a raw map out.

Each takes the `PixelContext` (how to run the model) and the `PixelCall` (this call's
tensors: R rows, one per (sample, target)) and returns a `PixelResult` whose map is
`(R, *spatial)`: `(R, H, W)` at the input's resolution for images, `(R, T)` per token for
a text model. Every score is the head's (`app.engine.targets.heads`: a class, a region, a
box), the same path the CAM methods differentiate; a noisy copy or a point on a path keeps
the choices its row made on the clean input.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from app.engine.capture.adapter import Capture, Outputs, ScoreOf
from app.engine.layers.refs import LayerRef
from app.engine.methods.gradient import gradcam
from app.engine.methods.pixel.maps import (
    along_path,
    channel_max_abs,
    min_max,
    noise_draws,
    noisy_copies,
    path_sum,
    resize_maps,
    trapezoid,
    value_range,
)
from app.engine.targets.heads import Head, RowTensors, Scored

# Model rows per pass of SmoothGrad's and Integrated Gradients' loop over their copies.
COPY_ROWS = 8


@dataclass(frozen=True)
class PixelContext:
    capture: Capture
    layer: LayerRef  # the explained layer (Guided Grad-CAM's Grad-CAM)
    model: keras.Model | None  # None: a SavedModel's frozen graph
    head: Head  # what is differentiated


@dataclass(frozen=True)
class PixelCall:
    inputs: tf.Tensor  # (R, ...) the model's input, one row per (sample, target)
    rows: RowTensors  # (R, ...) each row's target: class (-1: top), region, box, anchor
    use_logit: tf.Tensor  # () bool
    counterfactual: tf.Tensor  # () bool: integrated-gradients negates its attribution
    baselines: tf.Tensor  # (R, ...) integrated-gradients' baseline inputs
    samples: tf.Tensor  # () int32: smoothgrad's noisy copies
    noise: tf.Tensor  # () float32: smoothgrad's sigma / (max - min)
    seed: tf.Tensor  # (2,) int32: smoothgrad's noise
    steps: tf.Tensor  # () int32: integrated-gradients' path points


@dataclass(frozen=True)
class PixelResult:
    raw: tf.Tensor  # (R, *spatial) float32, before relu
    outputs: Outputs  # (R, ...) every model output on the row's input
    scored: Scored  # the rows as the head scored them on their input
    gaps: tf.Tensor  # (R,) float32: completeness gap (integrated-gradients), else 0


def head_score(
    head: Head, rows: RowTensors, use_logit: tf.Tensor, found: dict[str, Scored] | None = None
) -> ScoreOf:
    """The head's score of `rows`; what it resolved goes to `found["scored"]`."""

    def score_of(outputs: Outputs, logits: Outputs) -> tf.Tensor:
        scored = head.score(outputs, logits, rows, use_logit)
        if found is not None:
            found["scored"] = scored
        return scored.score

    return score_of


def repeated(rows: RowTensors, copies: tf.Tensor) -> RowTensors:
    """Each row `copies` times in a row (its noisy copies, its path's points)."""
    return RowTensors(
        *(tf.repeat(v, copies, axis=0) for v in (rows.target, rows.region, rows.box, rows.anchor))
    )


def clean_rows(context: PixelContext, call: PixelCall) -> tuple[Outputs, Scored]:
    """(outputs, scored rows) on the rows' own inputs: a noisy copy or a point on a path
    keeps the class, region and box its row resolved on the clean input."""
    outputs, logits = context.capture.forward(call.inputs, context.layer.path, _same)
    return outputs, context.head.score(outputs, logits, call.rows, call.use_logit)


def _same(output: tf.Tensor) -> tf.Tensor:
    return output


def _no_gaps(rows: tf.Tensor) -> tf.Tensor:
    return tf.zeros(tf.shape(rows)[:1], tf.float32)


def saliency(context: PixelContext, call: PixelCall) -> PixelResult:
    """`max_c |d score / d x|` (Simonyan et al. 2014; tf-keras-vis `Saliency`)."""
    return _gradient_map(context, call, guided=False)


def guided_backprop(context: PixelContext, call: PixelCall) -> PixelResult:
    """`max_c |g|`, `g` the guided gradient (pytorch-grad-cam `GuidedBackpropReLUModel`)."""
    return _gradient_map(context, call, guided=True)


def _gradient_map(context: PixelContext, call: PixelCall, guided: bool) -> PixelResult:
    found: dict[str, Scored] = {}
    score_of = head_score(context.head, call.rows, call.use_logit, found)
    gradients, outputs, _ = context.capture.input_gradients(call.inputs, score_of, guided)
    raw = channel_max_abs(gradients)
    return PixelResult(raw, outputs, found["scored"], _no_gaps(raw))


def smoothgrad(context: PixelContext, call: PixelCall) -> PixelResult:
    """`max_c mean_n |d score / d (x + e_n)|`, `e_n ~ N(0, (noise (max - min))^2)` over
    `samples` copies in one pass (Smilkov et al. 2017; tf-keras-vis `Saliency` with
    `smooth_samples`: the mean of |g| over the samples, then the channel max)."""
    outputs, scored = clean_rows(context, call)
    draws = noise_draws(call.inputs, call.samples, call.seed)
    spread = call.noise * value_range(call.inputs)

    def copies(first: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunk = draws[first : first + count]
        return noisy_copies(call.inputs, spread, chunk), tf.ones([count])

    rows = scored.resolved(call.rows)
    total = summed_gradients(context, call, rows, call.samples, copies, absolute=True)
    raw = tf.reduce_max(total / tf.cast(call.samples, tf.float32), axis=-1)
    return PixelResult(raw, outputs, scored, _no_gaps(raw))


def integrated_gradients(context: PixelContext, call: PixelCall) -> PixelResult:
    """Pixels: `(x - b) * sum_i w_i d score / d x (b + a_i (x - b))` summed over colour
    channels (Sundararajan et al. 2017; Captum `IntegratedGradients`, riemann_trapezoid).
    Token ids: the same on the first Embedding's output (Captum's
    `LayerIntegratedGradients`), the baseline the embedding of the baseline ids."""
    if not call.inputs.dtype.is_floating:
        return _embedding_integrated_gradients(context, call)
    outputs, scored = clean_rows(context, call)
    alphas, weights = trapezoid(call.steps)

    def points(first: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunk = alphas[first : first + count]
        return along_path(call.inputs, call.baselines, chunk), weights[first : first + count]

    rows = scored.resolved(call.rows)
    gradients = summed_gradients(context, call, rows, call.steps, points, absolute=False)
    difference = tf.cast(call.inputs - call.baselines, tf.float32)
    attribution = difference * gradients
    ends = end_scores(context, call, rows)
    return _attribution_result(attribution, ends, call, outputs, scored)


def summed_gradients(
    context: PixelContext,
    call: PixelCall,
    rows: RowTensors,
    copies: tf.Tensor,
    make: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]],
    absolute: bool,
) -> tf.Tensor:
    """`sum_k w_k g_k` (`|g_k|` when `absolute`) over the `copies` copies of every row,
    `(R, ...)`: `make(first, count)` gives copies `first..first+count-1` of every row
    (`(R * count, ...)`, row-major) and their weights `(count,)`; every copy is scored
    as its row resolved on the clean input. A loop inside the pass takes about
    `COPY_ROWS` model rows at a time: on a CPU a batch of many large rows costs more per
    row than a few (memory), and memory stays bounded."""
    n_rows = tf.shape(call.inputs)[0]
    per_pass = tf.maximum(1, COPY_ROWS // n_rows)

    def step(first: tf.Tensor, total: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        count = tf.minimum(per_pass, copies - first)
        inputs, weights = make(first, count)
        score_of = head_score(context.head, repeated(rows, count), call.use_logit)
        gradients, _, _ = context.capture.input_gradients(inputs, score_of, False)
        gradients = tf.abs(gradients) if absolute else gradients
        return first + count, total + path_sum(gradients, weights)

    start = tf.zeros_like(tf.cast(call.inputs, tf.float32))
    _, total = tf.while_loop(lambda first, _: first < copies, step, (tf.constant(0), start))
    return tf.convert_to_tensor(total)


def end_scores(context: PixelContext, call: PixelCall, rows: RowTensors) -> tf.Tensor:
    """The differentiated score at the baseline and at the input, `(R, 2)`."""
    both = tf.concat([call.baselines, call.inputs], axis=0)
    outputs, logits = context.capture.forward(both, context.layer.path, _same)
    twice = RowTensors(
        *(tf.concat([v, v], axis=0) for v in (rows.target, rows.region, rows.box, rows.anchor))
    )
    scores = head_score(context.head, twice, call.use_logit)(outputs, logits)
    return tf.transpose(tf.reshape(scores, [2, -1]))


def _embedding_integrated_gradients(context: PixelContext, call: PixelCall) -> PixelResult:
    capture = context.capture
    path = capture.mask_path()
    assert path is not None  # checked when the method is built
    kept: dict[str, tf.Tensor] = {}

    def keep(output: tf.Tensor) -> tf.Tensor:
        kept["embedding"] = tf.cast(output, tf.float32)
        return output

    clean, logits = capture.forward(call.inputs, path, keep)
    scored = context.head.score(clean, logits, call.rows, call.use_logit)
    embedded = kept["embedding"]
    capture.forward(call.baselines, path, keep)
    base = kept["embedding"]
    alphas, weights = trapezoid(call.steps)
    points = along_path(embedded, base, alphas)
    outputs, logits = capture.forward(tf.repeat(call.inputs, call.steps, 0), path, lambda _: points)
    rows = repeated(scored.resolved(call.rows), call.steps)
    scores = head_score(context.head, rows, call.use_logit)(outputs, logits)
    (gradients,) = tf.gradients(scores, [points])
    attribution = (embedded - base) * path_sum(gradients, weights)
    ends = tf.gather(tf.reshape(scores, [-1, call.steps]), [0, call.steps - 1], axis=1)
    return _attribution_result(attribution, ends, call, clean, scored)


def _attribution_result(
    attribution: tf.Tensor,
    ends: tf.Tensor,
    call: PixelCall,
    outputs: Outputs,
    scored: Scored,
) -> PixelResult:
    """The map (channels summed; negated when counterfactual) and the completeness gap
    `sum attribution - (score(x) - score(b))`, `ends` = (score(b), score(x)) `(R, 2)`."""
    axes = list(range(1, len(attribution.shape)))
    gaps = tf.reduce_sum(attribution, axis=axes) - (ends[:, 1] - ends[:, 0])
    raw = tf.reduce_sum(attribution, axis=-1)
    raw = tf.where(call.counterfactual, -raw, raw)
    return PixelResult(raw, outputs, scored, gaps)


def guided_gradcam(context: PixelContext, call: PixelCall) -> PixelResult:
    """`max_c |g_guided * cam|`, `cam` the Grad-CAM map of the explained layer as
    pytorch-grad-cam's `GradCAM` returns it (relu, min-max, resized to the input bilinear
    half-pixel, min-max again): the Grad-CAM paper's Guided Grad-CAM as pytorch-grad-cam's
    example composes it."""
    found: dict[str, Scored] = {}
    score_of = head_score(context.head, call.rows, call.use_logit, found)
    activations, gradients, outputs = context.capture.gradients(call.inputs, score_of, True)
    assert gradients is not None
    activations, gradients = tf.cast(activations, tf.float32), tf.cast(gradients, tf.float32)
    grid = context.layer.grid
    if grid is not None:
        activations, gradients = grid.to_grid(activations), grid.to_grid(gradients)
    cam = min_max(tf.nn.relu(gradcam(activations, gradients)))
    cam = min_max(resize_maps(cam, tf.shape(call.inputs)[1:3]))
    scored = found["scored"]
    guided_score = head_score(context.head, scored.resolved(call.rows), call.use_logit)
    guided, _, _ = context.capture.input_gradients(call.inputs, guided_score, True)
    raw = channel_max_abs(guided * cam[..., None])
    return PixelResult(raw, outputs, scored, _no_gaps(raw))
