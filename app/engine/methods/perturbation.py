"""Score-CAM and Ablation-CAM: channel weights from forward passes on perturbed inputs.

Two compiled functions per (model, layer, method), each with a fixed input signature:
`capture` runs the model once on the B samples and keeps the `max_channels` channels of
the layer with the largest spatial standard deviation (ties: lower index first, as
`tf.math.top_k`); `chunk` runs the model on the perturbations of a chunk of those
channels for every sample at once. `chunk` also gets the layer's captured activations:
a method that perturbs them replaces the layer's output with them, and the unused ops
before the layer are pruned from the graph. Chunks hold at most `CHUNK_ROWS` perturbed inputs, so
memory stays bounded; a request's chunks are a Python loop over compiled calls. Both
the model output and the logit come back for every class, so one pass serves every
target of a sample and either `score` mode: each row's score is its head's
(`app.engine.targets.heads`) on the perturbed outputs, with the row's choices (its class,
region, box) fixed on the unperturbed input.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from app.engine.capture.adapter import Capture, Outputs
from app.engine.compiled import compile_step
from app.engine.layers.graph import OnTarget
from app.engine.layers.tokens import TokenGrid
from app.engine.methods.cam import EPSILON, spatial_axes
from app.engine.methods.smoothing import smooth_weighted
from app.engine.targets.heads import Head, RowTensors
from app.engine.targets.results import CamBatch
from app.engine.targets.rows import TargetRows

# Perturbed inputs per compiled call: bounded memory, still a batch big enough to be fast.
CHUNK_ROWS = 32


@dataclass(frozen=True)
class ModelContext:
    """What a perturbation method needs to run the model."""

    capture: Capture  # a Keras model or a frozen graph
    layer_path: tuple[str, ...]
    spatial_shape: tuple[int | None, ...]  # of the layer's output, without batch and channels
    grid: TokenGrid | None = None  # a token layer: `spatial_shape` is its patch grid
    channels: int | None = None  # a token layer's channels: static, the layers after need it

    @property
    def layer_shape(self) -> tuple[int | None, ...]:
        """The layer's own output shape without batch and channels (tokens: `(T,)`)."""
        return self.spatial_shape if self.grid is None else (self.grid.tokens,)

    def on_patches(self, output: tf.Tensor, change: OnTarget) -> tf.Tensor:
        """`change` applied to the layer's output seen as a grid; a token layer gets the
        changed grid back as tokens, its prefix tokens unchanged."""
        if self.grid is None:
            return change(output)
        return self.grid.to_tokens(change(self.grid.to_grid(output)), like=output)


@dataclass(frozen=True)
class ChannelScores:
    """Per sample b: the model without perturbation and with each selected channel's."""

    outputs: dict[str, np.ndarray]  # name -> (B, ...): every model output
    logits: dict[str, np.ndarray]  # name -> (B, ...): logit (= output when it has none)
    activations: np.ndarray  # (B, *spatial, k): the selected channels of A
    channel_outputs: dict[str, np.ndarray]  # name -> (B, k, ...): with channel k perturbed
    channel_logits: dict[str, np.ndarray]  # name -> (B, k, ...)


class Perturbation(ABC):
    """The compiled capture and chunk functions; subclasses define the perturbation."""

    def __init__(self, context: ModelContext) -> None:
        self.context = context
        inputs = context.capture.input_spec
        max_channels = tf.TensorSpec([], tf.int32, name="max_channels")
        layer = tf.TensorSpec(
            [None, *context.layer_shape, context.channels], tf.float32, name="layer"
        )
        self._capture = compile_step(self._capture_step, [inputs, max_channels])
        self._chunk = compile_step(self._chunk_step, [inputs, layer, self.chunk_spec()])

    @property
    def trace_count(self) -> int:
        return int(
            self._capture.experimental_get_tracing_count()
            + self._chunk.experimental_get_tracing_count()
        )

    @abstractmethod
    def chunk_spec(self) -> tf.TensorSpec:
        """The signature of `_chunk_step`'s `chunk` argument."""

    @abstractmethod
    def chunk_argument(self, activations: tf.Tensor, channels: tf.Tensor) -> tf.Tensor:
        """What `_chunk_step` takes for a chunk of the selected channels."""

    @abstractmethod
    def _chunk_step(
        self, inputs: tf.Tensor, layer: tf.Tensor, chunk: tf.Tensor
    ) -> tuple[Outputs, Outputs]:
        """(outputs, logits) `(B, c, ...)` by name for the perturbations of c channels;
        `layer` `(B, *S, K)` holds the layer's activations (float32) for every sample
        (a token layer: its tokens `(B, T, K)`, prefix included)."""

    def run(self, inputs: np.ndarray, max_channels: int) -> ChannelScores:
        """`inputs` (B, ...) preprocessed; at most `max_channels` channels perturbed."""
        layer, activations, channels, outputs, logits = self._capture(inputs, max_channels)
        n_selected = int(channels.shape[1])
        per_chunk = max(1, CHUNK_ROWS // max(1, len(inputs)))
        chunk_outputs, chunk_logits = [], []
        for start in range(0, n_selected, per_chunk):
            stop = start + per_chunk
            argument = self.chunk_argument(activations[..., start:stop], channels[:, start:stop])
            out, logit = self._chunk(inputs, layer, argument)
            chunk_outputs.append(out)
            chunk_logits.append(logit)
        return ChannelScores(
            outputs=as_numpy(outputs),
            logits=as_numpy(logits),
            activations=activations.numpy(),
            channel_outputs=concatenated(chunk_outputs),
            channel_logits=concatenated(chunk_logits),
        )

    def _capture_step(self, inputs: tf.Tensor, max_channels: tf.Tensor) -> tuple[tf.Tensor, ...]:
        captured: dict[str, tf.Tensor] = {}

        def keep(activations: tf.Tensor) -> tf.Tensor:
            captured["activations"] = activations
            return activations

        outputs, logits = self.forward(inputs, self.context.layer_path, keep)
        layer = tf.cast(captured["activations"], tf.float32)
        grid = self.context.grid
        activations = layer if grid is None else grid.to_grid(layer)
        spread = tf.math.reduce_std(activations, axis=spatial_axes(activations))
        count = tf.minimum(max_channels, tf.shape(spread)[-1])
        channels = tf.math.top_k(spread, k=count, sorted=True).indices
        selected = tf.gather(activations, channels, axis=-1, batch_dims=1)
        return layer, selected, channels, outputs, logits

    def forward(
        self, inputs: tf.Tensor, path: tuple[str, ...], on_target: OnTarget
    ) -> tuple[Outputs, Outputs]:
        """The model's (outputs, logits) by name, with `on_target` applied at `path`."""
        return self.context.capture.forward(inputs, path, on_target)


def per_channel(values: Outputs, n_samples: tf.Tensor, n_channels: tf.Tensor) -> Outputs:
    """Each output's rows ordered (sample, channel) `(B * c, ...)` as `(B, c, ...)`."""
    return {
        name: tf.reshape(value, tf.concat([[n_samples, n_channels], tf.shape(value)[1:]], 0))
        for name, value in values.items()
    }


def as_numpy(values: Outputs) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in values.items()}


def concatenated(chunks: list[Outputs]) -> dict[str, np.ndarray]:
    """The chunks' `(B, c, ...)` outputs joined along the channels."""
    return {
        name: np.concatenate([chunk[name].numpy() for chunk in chunks], axis=1)
        for name in chunks[0]
    }


def upsample(maps: tf.Tensor, size: tf.Tensor) -> tf.Tensor:
    """Bilinear resize of `maps` `(M, *spatial)` (1 or 2 spatial axes) to `size`."""
    if len(maps.shape) == 2:  # text: a column image of width 1
        column = tf.image.resize(maps[:, :, None, None], tf.stack([size[0], 1]))
        return column[:, :, 0, 0]
    return tf.image.resize(maps[..., None], size)[..., 0]


def combine_channels(
    scores: ChannelScores,
    channel_weights: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rows: TargetRows,
    relu: bool,
    use_logit: bool,
    head: Head,
    smooth: bool = False,
) -> CamBatch:
    """Per (sample, target) row: `channel_weights(base score (N,), channel scores (N, k))`,
    then the map `sum_k w_k A_k` over the selected channels. The scores are the head's
    (logit or output, as asked), each channel's with the row's class, region and box
    resolved on the unperturbed input; `smooth`: the first principal component of
    `A_k w_k` instead of the sum (eigen_smooth)."""
    sample = rows.sample
    wanted = RowTensors(
        *(tf.constant(v) for v in (rows.target, rows.region, rows.box, rows.anchor))
    )
    base = head.score(
        taken(scores.outputs, sample), taken(scores.logits, sample), wanted, use_logit
    )
    resolved = base.resolved(wanted)
    n_channels = scores.activations.shape[-1]
    repeated = RowTensors(
        *(
            tf.repeat(v, n_channels, axis=0)
            for v in (resolved.target, resolved.region, resolved.box, resolved.anchor)
        )
    )
    channel = head.score(
        flat_channels(scores.channel_outputs, sample), flat_channels(scores.channel_logits, sample),
        repeated, use_logit,
    )  # fmt: skip
    channel_scores = channel.score.numpy().reshape(len(sample), n_channels)
    weights = channel_weights(base.score.numpy(), channel_scores)
    if smooth:
        raw = smooth_weighted(scores.activations[sample], weights)
    else:
        raw = np.einsum("n...k,nk->n...", scores.activations[sample], weights)
    raw = (np.maximum(raw, 0.0) if relu else raw).astype(np.float32)
    scales = np.abs(raw).reshape(len(raw), -1).max(axis=1)
    heatmaps = raw / (scales.reshape(-1, *[1] * (raw.ndim - 1)) + EPSILON)
    return CamBatch(
        predictions=head.summary(scores.outputs),
        sample=sample,
        targets=base.target.numpy(),
        scores=base.value.numpy(),
        cams=raw,
        heatmaps=heatmaps.astype(np.float32),
        scales=scales,
        outputs=scores.outputs,
        anchors=base.anchor.numpy(),
        quality=base.quality.numpy(),
        regions=base.region.numpy(),
        head=head,
    )


def taken(values: dict[str, np.ndarray], sample: np.ndarray) -> dict[str, tf.Tensor]:
    return {name: tf.constant(value[sample]) for name, value in values.items()}


def flat_channels(values: dict[str, np.ndarray], sample: np.ndarray) -> dict[str, tf.Tensor]:
    """Per row its k channels' outputs `(N, k, ...)` as `(N * k, ...)`."""
    return {
        name: tf.constant(value[sample].reshape(-1, *value.shape[2:]))
        for name, value in values.items()
    }
