"""One function per pixel-level method: a compiled call's tensors in, a raw map out.

Each takes the `PixelContext` (how to run the model) and the `PixelCall` (this call's
tensors: R rows, one per (sample, target)) and returns a `PixelResult` whose map is
`(R, *spatial)`: `(R, H, W)` at the input's resolution for images, `(R, T)` per token for
a text model. Every score is `target_score`, the same path the CAM methods differentiate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import tensorflow as tf

from app.engine.capture.adapter import Capture
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
from app.engine.targets.score import LogitFn, target_score

# Model rows per pass of SmoothGrad's and Integrated Gradients' loop over their copies.
COPY_ROWS = 8


@dataclass(frozen=True)
class PixelContext:
    capture: Capture
    layer: LayerRef  # the explained layer (Guided Grad-CAM's Grad-CAM)
    model: keras.Model | None  # None: a SavedModel's frozen graph
    logit_fn: LogitFn | None = None  # a Keras model's logit from its last layer's input


@dataclass(frozen=True)
class PixelCall:
    inputs: tf.Tensor  # (R, ...) the model's input, one row per (sample, target)
    targets: tf.Tensor  # (R,) int32; -1: the row's top prediction
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
    predictions: tf.Tensor  # (R, n) float32: the model output on the row's input
    targets: tf.Tensor  # (R,) int32, resolved
    gaps: tf.Tensor  # (R,) float32: completeness gap (integrated-gradients), else 0


def top_targets(context: PixelContext, call: PixelCall) -> tuple[tf.Tensor, tf.Tensor]:
    """(predictions (R, n), targets (R,)) on the rows' own inputs: a noisy copy or a point
    on a path keeps the target its row resolved on the clean input."""
    resolved: dict[str, tf.Tensor] = {}
    predictions, logits = context.capture.forward(call.inputs, context.layer.path, _same)
    target_score(call.targets, call.use_logit, resolved)(predictions, logits)
    return predictions, resolved["targets"]


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
    resolved: dict[str, tf.Tensor] = {}
    score_of = target_score(call.targets, call.use_logit, resolved)
    gradients, predictions, _ = context.capture.input_gradients(call.inputs, score_of, guided)
    raw = channel_max_abs(gradients)
    return PixelResult(raw, predictions, resolved["targets"], _no_gaps(raw))


def smoothgrad(context: PixelContext, call: PixelCall) -> PixelResult:
    """`max_c mean_n |d score / d (x + e_n)|`, `e_n ~ N(0, (noise (max - min))^2)` over
    `samples` copies in one pass (Smilkov et al. 2017; tf-keras-vis `Saliency` with
    `smooth_samples`: the mean of |g| over the samples, then the channel max)."""
    predictions, targets = top_targets(context, call)
    draws = noise_draws(call.inputs, call.samples, call.seed)
    spread = call.noise * value_range(call.inputs)

    def copies(first: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunk = draws[first : first + count]
        return noisy_copies(call.inputs, spread, chunk), tf.ones([count])

    total = summed_gradients(context, call, targets, call.samples, copies, absolute=True)
    raw = tf.reduce_max(total / tf.cast(call.samples, tf.float32), axis=-1)
    return PixelResult(raw, predictions, targets, _no_gaps(raw))


def integrated_gradients(context: PixelContext, call: PixelCall) -> PixelResult:
    """Pixels: `(x - b) * sum_i w_i d score / d x (b + a_i (x - b))` summed over colour
    channels (Sundararajan et al. 2017; Captum `IntegratedGradients`, riemann_trapezoid).
    Token ids: the same on the first Embedding's output (Captum's
    `LayerIntegratedGradients`), the baseline the embedding of the baseline ids."""
    if not call.inputs.dtype.is_floating:
        return _embedding_integrated_gradients(context, call)
    predictions, targets = top_targets(context, call)
    alphas, weights = trapezoid(call.steps)

    def points(first: tf.Tensor, count: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        chunk = alphas[first : first + count]
        return along_path(call.inputs, call.baselines, chunk), weights[first : first + count]

    gradients = summed_gradients(context, call, targets, call.steps, points, absolute=False)
    difference = tf.cast(call.inputs - call.baselines, tf.float32)
    attribution = difference * gradients
    ends = end_scores(context, call, targets)
    return _attribution_result(attribution, ends, call, predictions, targets)


def summed_gradients(
    context: PixelContext,
    call: PixelCall,
    targets: tf.Tensor,
    copies: tf.Tensor,
    make: Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]],
    absolute: bool,
) -> tf.Tensor:
    """`sum_k w_k g_k` (`|g_k|` when `absolute`) over the `copies` copies of every row,
    `(R, ...)`: `make(first, count)` gives copies `first..first+count-1` of every row
    (`(R * count, ...)`, row-major) and their weights `(count,)`. A loop inside the pass
    takes about `COPY_ROWS` model rows at a time: on a CPU a batch of many large rows
    costs more per row than a few (memory), and memory stays bounded."""
    rows = tf.shape(call.inputs)[0]
    per_pass = tf.maximum(1, COPY_ROWS // rows)

    def step(first: tf.Tensor, total: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        count = tf.minimum(per_pass, copies - first)
        inputs, weights = make(first, count)
        score_of = target_score(tf.repeat(targets, count), call.use_logit)
        gradients, _, _ = context.capture.input_gradients(inputs, score_of, False)
        gradients = tf.abs(gradients) if absolute else gradients
        return first + count, total + path_sum(gradients, weights)

    start = tf.zeros_like(tf.cast(call.inputs, tf.float32))
    _, total = tf.while_loop(lambda first, _: first < copies, step, (tf.constant(0), start))
    return tf.convert_to_tensor(total)


def end_scores(context: PixelContext, call: PixelCall, targets: tf.Tensor) -> tf.Tensor:
    """The differentiated score at the baseline and at the input, `(R, 2)`."""
    both = tf.concat([call.baselines, call.inputs], axis=0)
    predictions, logits = context.capture.forward(both, context.layer.path, _same)
    scores = target_score(tf.tile(targets, [2]), call.use_logit)(predictions, logits)
    return tf.transpose(tf.reshape(scores, [2, -1]))


def _embedding_integrated_gradients(context: PixelContext, call: PixelCall) -> PixelResult:
    capture = context.capture
    path = capture.mask_path()
    assert path is not None  # checked when the method is built
    kept: dict[str, tf.Tensor] = {}

    def keep(output: tf.Tensor) -> tf.Tensor:
        kept["embedding"] = tf.cast(output, tf.float32)
        return output

    resolved: dict[str, tf.Tensor] = {}
    predictions, logits = capture.forward(call.inputs, path, keep)
    target_score(call.targets, call.use_logit, resolved)(predictions, logits)
    embedded = kept["embedding"]
    capture.forward(call.baselines, path, keep)
    base = kept["embedding"]
    alphas, weights = trapezoid(call.steps)
    points = along_path(embedded, base, alphas)
    outputs, logits = capture.forward(tf.repeat(call.inputs, call.steps, 0), path, lambda _: points)
    targets = resolved["targets"]
    scores = target_score(tf.repeat(targets, call.steps), call.use_logit)(outputs, logits)
    (gradients,) = tf.gradients(scores, [points])
    attribution = (embedded - base) * path_sum(gradients, weights)
    ends = tf.gather(tf.reshape(scores, [-1, call.steps]), [0, call.steps - 1], axis=1)
    return _attribution_result(attribution, ends, call, predictions, targets)


def _attribution_result(
    attribution: tf.Tensor,
    ends: tf.Tensor,
    call: PixelCall,
    predictions: tf.Tensor,
    targets: tf.Tensor,
) -> PixelResult:
    """The map (channels summed; negated when counterfactual) and the completeness gap
    `sum attribution - (score(x) - score(b))`, `ends` = (score(b), score(x)) `(R, 2)`."""
    axes = list(range(1, len(attribution.shape)))
    gaps = tf.reduce_sum(attribution, axis=axes) - (ends[:, 1] - ends[:, 0])
    raw = tf.reduce_sum(attribution, axis=-1)
    raw = tf.where(call.counterfactual, -raw, raw)
    return PixelResult(raw, predictions, targets, gaps)


def guided_gradcam(context: PixelContext, call: PixelCall) -> PixelResult:
    """`max_c |g_guided * cam|`, `cam` the Grad-CAM map of the explained layer as
    pytorch-grad-cam's `GradCAM` returns it (relu, min-max, resized to the input bilinear
    half-pixel, min-max again): the Grad-CAM paper's Guided Grad-CAM as pytorch-grad-cam's
    example composes it."""
    resolved: dict[str, tf.Tensor] = {}
    score_of = target_score(call.targets, call.use_logit, resolved)
    activations, gradients, predictions = context.capture.gradients(call.inputs, score_of, True)
    assert gradients is not None
    activations, gradients = tf.cast(activations, tf.float32), tf.cast(gradients, tf.float32)
    grid = context.layer.grid
    if grid is not None:
        activations, gradients = grid.to_grid(activations), grid.to_grid(gradients)
    cam = min_max(tf.nn.relu(gradcam(activations, gradients)))
    cam = min_max(resize_maps(cam, tf.shape(call.inputs)[1:3]))
    targets = resolved["targets"]
    guided_score = target_score(targets, call.use_logit)
    guided, _, _ = context.capture.input_gradients(call.inputs, guided_score, True)
    raw = channel_max_abs(guided * cam[..., None])
    return PixelResult(raw, predictions, targets, _no_gaps(raw))
