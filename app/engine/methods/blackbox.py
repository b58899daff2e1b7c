"""Black-box methods: maps from the model's scores on perturbed images, no gradient.

They need only a `Scorer`: perturbed images `(M, H, W, C)` in the model's pixel units
(0..255, before the card's scaling) -> scores `(M, N)`, column r being row r's head score
(`app.engine.targets.heads`: a class's logit or output, a region's sum, a box's class
score) with the row's choices (class, region, predicted box) fixed on the unperturbed
image, as the request's `score` says (a remote model: its returned prediction).
The methods (`app.engine.methods.occlusion`, `app.engine.methods.rise`) hand it chunks of
at most `chunk_rows` images, so memory stays bounded whatever the number of perturbations;
a local model's scorer is one compiled forward (no trace per request), a remote one's a
batch of `:predict` calls. Maps come out at the input's resolution `(N, H, W)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from app.engine.methods.cam import EPSILON
from app.engine.targets.heads import Head, RowTensors, Scored
from app.engine.targets.results import CamBatch
from app.engine.targets.rows import TargetRows
from app.errors import InvalidInput

# (M, H, W, C) pixels -> (scores (M, N), the same); chunks of at most `chunk_rows`.
Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]
Arrays = dict[str, np.ndarray]
# (M, H, W, C) pixels -> (outputs, logits) by name, each (M, ...)
ImageForward = Callable[[np.ndarray], tuple[Arrays, Arrays]]


@dataclass(frozen=True)
class BlackBoxOptions:
    """A request's options of the black-box methods (None: the method's default)."""

    occlusion_window: int | None = None  # px; None: an eighth of the input's side
    occlusion_stride: int | None = None  # px; None: half the window
    rise_masks: int = 2000
    rise_cells: int = 7
    seed: int = 0


@dataclass(frozen=True)
class Rows:
    """The maps asked for: row r explains `pixels[sample[r]]` by the scorer's column
    `targets[r]` (its own column: r)."""

    pixels: np.ndarray  # (B, H, W, C), 0..255 before scaling
    sample: np.ndarray  # (N,)
    targets: np.ndarray  # (N,) the scorer's column of each row
    base: np.ndarray  # (B, N): the unperturbed images' scores


# (scorer, rows, options, chunk_rows) -> raw maps (N, H, W), before relu
BlackBoxMap = Callable[[Scorer, Rows, BlackBoxOptions, int], np.ndarray]


def score_chunks(
    scorer: Scorer, images: Iterable[np.ndarray], chunk_rows: int
) -> tuple[np.ndarray, np.ndarray]:
    """`scorer` on `images` (each `(H, W, C)`) `chunk_rows` at a time, concatenated."""
    outputs: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    chunk: list[np.ndarray] = []

    def flush() -> None:
        out, score = scorer(np.stack(chunk))
        outputs.append(np.asarray(out, np.float64))
        scores.append(np.asarray(score, np.float64))
        chunk.clear()

    for image in images:
        chunk.append(image)
        if len(chunk) == chunk_rows:
            flush()
    if chunk:
        flush()
    return np.concatenate(outputs), np.concatenate(scores)


def explain_blackbox(
    method: BlackBoxMap,
    forward: ImageForward,
    head: Head,
    pixels: np.ndarray,
    rows: TargetRows,
    options: BlackBoxOptions,
    *,
    relu: bool,
    use_logit: bool,
    chunk_rows: int,
) -> CamBatch:
    """Maps `(N, H, W)` for `pixels` `(B, H, W, C)`: row n explains `pixels[sample[n]]`
    for its target (a class < 0: the sample's top one; a region, a box)."""
    if pixels.ndim != 4:
        raise InvalidInput("the black-box methods explain image models only")
    outputs, logits = forward(pixels)
    base = resolve_rows(head, outputs, logits, rows, use_logit)
    resolved = base.resolved(row_tensors(rows))
    scorer = row_scorer(forward, head, resolved, use_logit)
    columns = np.arange(len(rows), dtype=np.int32)
    plain = row_scores(head, outputs, logits, resolved, use_logit)  # the images once
    raw = method(scorer, Rows(pixels, rows.sample, columns, plain), options, chunk_rows)
    raw = (np.maximum(raw, 0.0) if relu else raw).astype(np.float32)
    scales = np.abs(raw).reshape(len(raw), -1).max(axis=1)
    heatmaps = raw / (scales[:, None, None] + EPSILON)
    return CamBatch(
        predictions=head.summary(outputs).astype(np.float32),
        sample=rows.sample,
        targets=base.target.numpy(),
        scores=base.value.numpy(),
        cams=raw,
        heatmaps=heatmaps.astype(np.float32),
        scales=scales,
        outputs=outputs,
        anchors=base.anchor.numpy(),
        quality=base.quality.numpy(),
        regions=base.region.numpy(),
        head=head,
    )


def row_tensors(rows: TargetRows) -> RowTensors:
    return RowTensors(*(tf.constant(v) for v in (rows.target, rows.region, rows.box, rows.anchor)))


def resolve_rows(
    head: Head, outputs: Arrays, logits: Arrays, rows: TargetRows, use_logit: bool
) -> Scored:
    """The rows scored on the unperturbed images: their class, region and box resolved."""
    return head.score(
        {name: tf.constant(value[rows.sample]) for name, value in outputs.items()},
        {name: tf.constant(value[rows.sample]) for name, value in logits.items()},
        row_tensors(rows),
        tf.constant(use_logit),
    )


def row_scorer(forward: ImageForward, head: Head, rows: RowTensors, use_logit: bool) -> Scorer:
    """Images `(M, ...)` -> `(M, N)`: every row's head score of every image (a row reads
    only its own sample's images; the other columns are never used)."""

    def score(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scores = row_scores(head, *forward(images), rows, use_logit)
        return scores, scores

    return score


def row_scores(
    head: Head, outputs: Arrays, logits: Arrays, rows: RowTensors, use_logit: bool
) -> np.ndarray:
    """`(M, N)`: every row's head score of each of the M images' outputs."""
    count, images = int(rows.target.shape[0]), len(next(iter(outputs.values())))
    every = np.repeat(np.arange(images), count)  # image m's N rows, m-major

    def tiled(values: Arrays) -> dict[str, tf.Tensor]:
        return {name: tf.constant(value[every]) for name, value in values.items()}

    tiled_rows = RowTensors(
        *(
            tf.tile(v, [images] + [1] * (len(v.shape) - 1))
            for v in (rows.target, rows.region, rows.box, rows.anchor)
        )
    )
    scored = head.score(tiled(outputs), tiled(logits), tiled_rows, tf.constant(use_logit))
    return np.asarray(scored.score.numpy()).reshape(images, count)
