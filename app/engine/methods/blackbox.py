"""Black-box methods: maps from the model's scores on perturbed images, no gradient.

They need only a `Scorer`: perturbed images `(M, H, W, C)` in the model's pixel units
(0..255, before the card's scaling) -> (outputs, scores) `(M, n)`, every class at once,
`scores` being what the request's `score` says (a remote model: its returned prediction).
The methods (`app.engine.methods.occlusion`, `app.engine.methods.rise`) hand it chunks of
at most `chunk_rows` images, so memory stays bounded whatever the number of perturbations;
a local model's scorer is one compiled forward (no trace per request), a remote one's a
batch of `:predict` calls. Maps come out at the input's resolution `(N, H, W)`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from app.engine.methods.cam import EPSILON
from app.engine.targets.results import CamBatch
from app.errors import InvalidInput

# (M, H, W, C) pixels -> (outputs (M, n), scores (M, n)); chunks of at most `chunk_rows`.
Scorer = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


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
    """The maps asked for: row r explains `pixels[sample[r]]` for class `targets[r]`."""

    pixels: np.ndarray  # (B, H, W, C), 0..255 before scaling
    sample: np.ndarray  # (N,)
    targets: np.ndarray  # (N,) resolved (no -1)
    base: np.ndarray  # (B, n): the unperturbed images' scores


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
    scorer: Scorer,
    pixels: np.ndarray,
    sample: np.ndarray,
    rows: np.ndarray,
    options: BlackBoxOptions,
    *,
    relu: bool,
    chunk_rows: int,
) -> CamBatch:
    """Maps `(N, H, W)` for `pixels` `(B, H, W, C)`: row n explains `pixels[sample[n]]`
    for class `rows[n]` (< 0: the sample's top prediction)."""
    if pixels.ndim != 4:
        raise InvalidInput("the black-box methods explain image models only")
    outputs, base = score_chunks(scorer, pixels, chunk_rows)
    resolved = np.where(rows < 0, outputs.argmax(axis=1)[sample], rows).astype(np.int32)
    raw = method(scorer, Rows(pixels, sample, resolved, base), options, chunk_rows)
    raw = (np.maximum(raw, 0.0) if relu else raw).astype(np.float32)
    scales = np.abs(raw).reshape(len(raw), -1).max(axis=1)
    heatmaps = raw / (scales[:, None, None] + EPSILON)
    return CamBatch(
        predictions=outputs.astype(np.float32),
        sample=sample,
        targets=resolved,
        scores=outputs[sample, resolved].astype(np.float32),
        cams=raw,
        heatmaps=heatmaps.astype(np.float32),
        scales=scales,
    )
