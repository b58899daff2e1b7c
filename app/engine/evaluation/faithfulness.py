"""Faithfulness scores of explanation maps: deletion, insertion, drop and increase.

Computed from the returned heatmaps on the model input after resize and before the
card's scaling (`pixels`, 0..255): the pixels are ranked by the heatmap upsampled
(bilinear) to the input size, highest first, ties by pixel index; step `i` of
`0..steps` affects the first `round(i * P / steps)` pixels (numpy's round: half to
even). `f` is the model output at the target, or for a head's rows its score of the
outputs (`app.engine.evaluation.head_scores`). Every masked image of a request goes
through the compiled forward in chunks of `CHUNK` images; the original image's `f` is
the explanation's own score, and the black image (the same for every sample) runs once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from app.errors import InvalidInput

METRIC_NAMES = ("deletion", "insertion", "drop", "increase")
DEFAULT_STEPS = 16
MAX_STEPS = 64
CHUNK = 32  # masked images per compiled forward call

Forward = Callable[[np.ndarray], np.ndarray]  # scaled inputs (M, ...) -> outputs (M, n)
Scaling = Callable[[np.ndarray], np.ndarray]
# (scaled images (M, ...) or one image (1, ...) for every row, map rows (M,)) -> f (M,)
RowScore = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Probe:
    """One masked image to score: for map `row`, `kind` at step `step`."""

    row: int
    kind: str  # "deletion", "insertion" or "masked" (the image times the map)
    step: int = 0


def check_metrics(metrics: Sequence[str], steps: int) -> None:
    unknown = [name for name in metrics if name not in METRIC_NAMES]
    if unknown:
        raise InvalidInput(f"unknown metric {unknown[0]!r}; known: {', '.join(METRIC_NAMES)}")
    if not 1 <= steps <= MAX_STEPS:
        raise InvalidInput(f"metric_steps must be in [1, {MAX_STEPS}], not {steps}")


def faithfulness(
    forward: Forward,
    scaling: Scaling,
    pixels: np.ndarray,
    sample: np.ndarray,
    targets: np.ndarray,
    scores: np.ndarray,
    heatmaps: np.ndarray,
    metrics: Sequence[str],
    steps: int = DEFAULT_STEPS,
    row_score: RowScore | None = None,
    chunk: int = CHUNK,
) -> dict[str, np.ndarray]:
    """Scores `{name: (N,)}` of N maps `heatmaps` `(N, h, w)` for `pixels` `(B, H, W, C)`.

    Row n explains `pixels[sample[n]]` for class `targets[n]`, whose output is `scores[n]`;
    `row_score` replaces "the output at the target" (a head's score); `chunk` masked
    images go to `forward` at a time.
    """
    check_metrics(metrics, steps)
    if not metrics:
        return {}
    row_score = row_score or class_output(forward, targets)
    maps = upsampled(heatmaps, pixels.shape[1:3])
    ranks = [pixel_ranks(m) for m in maps]
    curves = [kind for kind in ("deletion", "insertion") if kind in metrics]
    masked_needed = "drop" in metrics or "increase" in metrics
    probes = list(plan_probes(len(maps), steps, curves, masked_needed))
    counts = np.round(np.arange(steps + 1) * maps[0].size / steps).astype(np.int64)

    def image(probe: Probe) -> np.ndarray:
        source = pixels[sample[probe.row]]
        if probe.kind == "masked":
            return np.asarray(source * maps[probe.row][..., None])
        affected = ranks[probe.row] < counts[probe.step]
        keep = affected if probe.kind == "insertion" else ~affected
        return np.asarray(source * keep[..., None].astype(source.dtype))

    values = score_probes(row_score, scaling, probes, image, chunk)
    results: dict[str, np.ndarray] = {}
    if curves:
        black_image = scaling(np.zeros((1, *pixels.shape[1:]), pixels.dtype))
        black = row_score(black_image, np.arange(len(maps)))
        add_curves(results, metrics, values, scores, black, steps)
    masked = np.array([values.get(Probe(row, "masked"), 0.0) for row in range(len(maps))])
    if "drop" in metrics:
        results["drop"] = np.divide(
            np.maximum(0.0, scores - masked), scores, out=np.zeros(len(maps)), where=scores > 0
        )
    if "increase" in metrics:
        results["increase"] = (masked > scores).astype(np.float64)
    return {name: results[name] for name in metrics}


def upsampled(heatmaps: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Bilinear resize of `(N, h, w)` maps to `size`, clipped to [0, 1]."""
    resized = tf.image.resize(np.asarray(heatmaps, np.float32)[..., None], list(size))
    return np.asarray(np.clip(resized.numpy()[..., 0], 0.0, 1.0))


def pixel_ranks(heatmap: np.ndarray) -> np.ndarray:
    """Each pixel's place `(H, W)` in the order highest value first, ties by index."""
    order = np.argsort(-heatmap.ravel(), kind="stable")
    ranks = np.empty(order.size, dtype=np.int64)
    ranks[order] = np.arange(order.size)
    return ranks.reshape(heatmap.shape)


def plan_probes(n_maps: int, steps: int, curves: Sequence[str], masked: bool) -> Iterator[Probe]:
    """Steps 0 and `steps` are the original and black images: known or run once."""
    for row in range(n_maps):
        for step in range(1, steps):
            for kind in curves:
                yield Probe(row, kind, step)
        if masked:
            yield Probe(row, "masked")


def class_output(forward: Forward, targets: np.ndarray) -> RowScore:
    """f = the model output at each row's class."""

    def score(images: np.ndarray, rows: np.ndarray) -> np.ndarray:
        outputs = forward(images)
        return np.asarray(outputs[np.arange(len(rows)) % len(outputs), targets[rows]])

    return score


def score_probes(
    row_score: RowScore,
    scaling: Scaling,
    probes: list[Probe],
    image: Callable[[Probe], np.ndarray],
    chunk: int = CHUNK,
) -> dict[Probe, float]:
    values: dict[Probe, float] = {}
    for start in range(0, len(probes), chunk):
        part = probes[start : start + chunk]
        images = scaling(np.stack([image(probe) for probe in part]))
        scores = row_score(images, np.array([probe.row for probe in part]))
        for probe, value in zip(part, scores, strict=True):
            values[probe] = float(value)
    return values


def add_curves(
    results: dict[str, np.ndarray],
    metrics: Sequence[str],
    values: dict[Probe, float],
    original: np.ndarray,
    black: np.ndarray,
    steps: int,
) -> None:
    """Trapezoid areas under f over i / steps, for i in 0..steps."""
    n_maps = len(original)
    for kind, first, last in (("deletion", original, black), ("insertion", black, original)):
        if kind not in metrics:
            continue
        curves = np.empty((n_maps, steps + 1))
        curves[:, 0], curves[:, steps] = first, last
        for row in range(n_maps):
            for step in range(1, steps):
                curves[row, step] = values[Probe(row, kind, step)]
        results[kind] = np.asarray(np.trapezoid(curves, dx=1.0 / steps, axis=1))
