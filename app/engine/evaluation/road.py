"""ROAD: RemOve And Debias (Rong et al., 2022), as pytorch-grad-cam 1.5.7's `ROADCombined`.

For each percentile p in 10..90 the pixels are split by the map's p-th percentile
(`numpy.percentile`, linear): most-relevant-first (MoRF) keeps the pixels whose map value is
below it and imputes the others; least-relevant-first (LeRF) does the same with `1 - map`.
Imputed pixels are solved for by noisy linear imputation: each equals the weighted mean
of its 8 neighbours (1/6 sideways, 1/12 diagonally; neighbours outside the image drop out)
plus Gaussian noise of std `noise` (0.01, in the model-input units). A curve point is
f(imputed) - f(original) at the target; MoRF and LeRF are their means over p, and
combined = (LeRF - MoRF) / 2: high when removing the map's top pixels hurts more than
removing its bottom ones. Maps are `(H, W)` at the input size, inputs `(H, W, C)` as the
model takes them. f is the first output at the target, or `row_score` (a head's score of
each row's object, as the faithfulness scores use: a segmentation region, a detection box).
One difference, a degenerate case: when no pixel is kept (a constant map) pytorch-grad-cam's
system is singular (NaN); here the image is filled with zeros.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve

PERCENTILES = (10, 20, 30, 40, 50, 60, 70, 80, 90)
NOISE = 0.01
NEIGHBOURS = (
    ((1, 1), 1 / 12),
    ((0, 1), 1 / 6),
    ((-1, 1), 1 / 12),
    ((1, -1), 1 / 12),
    ((0, -1), 1 / 6),
    ((-1, -1), 1 / 12),
    ((1, 0), 1 / 6),
    ((-1, 0), 1 / 6),
)
Forward = Callable[[np.ndarray], np.ndarray]  # inputs (M, H, W, C) -> outputs (M, n)


def impute(
    image: np.ndarray, keep: np.ndarray, noise: float, rng: np.random.Generator
) -> np.ndarray:
    """`image` `(H, W, C)` with the pixels where `keep` `(H, W)` is False imputed."""
    height, width, channels = image.shape
    flat = image.reshape(-1, channels).astype(np.float64)
    kept = keep.ravel()
    missing = np.flatnonzero(~kept)
    if missing.size == 0:
        return image.copy()
    result = flat.copy()
    if not kept.any():
        result[:] = 0.0
    else:
        result[missing] = solve_missing(flat, kept, missing, (height, width))
    result[missing] += noise * rng.standard_normal((missing.size, channels))
    return result.reshape(image.shape).astype(image.dtype)


def solve_missing(
    flat: np.ndarray, kept: np.ndarray, missing: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """The linear system of pytorch-grad-cam's `setup_sparse_system`, solved: row i says
    -sum(w valid) * x_i + sum(w * x_missing neighbour) = -sum(w * known neighbour)."""
    height, width = shape
    variable = np.zeros(kept.size, dtype=np.int64)
    variable[missing] = np.arange(missing.size)
    rows_, cols_, values = [], [], []
    rhs = np.zeros((missing.size, flat.shape[1]))
    diagonal = np.ones(missing.size)
    y, x = missing // width, missing % width
    for (dy, dx), weight in NEIGHBOURS:
        ny, nx = y + dy, x + dx
        valid = (ny >= 0) & (nx >= 0) & (ny < height) & (nx < width)
        diagonal[~valid] -= weight
        ids = np.flatnonzero(valid)
        neighbour = ny[valid] * width + nx[valid]
        known = kept[neighbour]
        rhs[ids[known]] -= weight * flat[neighbour[known]]
        rows_.append(ids[~known])
        cols_.append(variable[neighbour[~known]])
        values.append(np.full(int((~known).sum()), weight))
    rows_.append(np.arange(missing.size))
    cols_.append(np.arange(missing.size))
    values.append(-diagonal)
    size = missing.size
    matrix = coo_matrix(
        (np.concatenate(values), (np.concatenate(rows_), np.concatenate(cols_))), (size, size)
    ).tocsc()
    solution = spsolve(matrix, rhs)
    return np.asarray(solution).reshape(size, -1)


def road_masks(heatmap: np.ndarray, percentile: float) -> tuple[np.ndarray, np.ndarray]:
    """The pixels MoRF and LeRF keep at `percentile`, each `(H, W)` bool."""
    values = np.asarray(heatmap, np.float32)
    morf = values < np.percentile(values, percentile)
    inverse = 1 - values
    lerf = inverse < np.percentile(inverse, percentile)
    return morf, lerf


def road(
    forward: Forward,
    inputs: np.ndarray,
    heatmaps: np.ndarray,
    targets: np.ndarray,
    *,
    percentiles: Sequence[float] = PERCENTILES,
    noise: float = NOISE,
    seed: int = 0,
    between: Callable[[], None] | None = None,
    row_score: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
) -> dict[str, np.ndarray]:
    """`{"road", "morf", "lerf"}`, each `(N,)`, for inputs `(N, H, W, C)` and maps `(N, H, W)`.

    `between` is called after each percentile (a job checks for its cancel there: the
    imputations are the slow part)."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets)
    rows = np.arange(len(inputs))

    def f(images: np.ndarray) -> np.ndarray:
        if row_score is not None:
            return np.asarray(row_score(images, rows), np.float32)
        return np.asarray(np.asarray(forward(images))[rows, targets], np.float32)

    original = f(inputs)
    morf = np.zeros((len(percentiles), len(inputs)), np.float32)
    lerf = np.zeros_like(morf)
    for step, percentile in enumerate(percentiles):
        masks = [road_masks(heatmap, percentile) for heatmap in heatmaps]
        for curve, which in ((morf, 0), (lerf, 1)):
            imputed = np.stack(
                [
                    impute(image, m[which], noise, rng)
                    for image, m in zip(inputs, masks, strict=True)
                ]
            )
            curve[step] = f(imputed) - original
        if between is not None:
            between()
    morf_mean, lerf_mean = morf.mean(axis=0), lerf.mean(axis=0)
    return {"road": (lerf_mean - morf_mean) / 2, "morf": morf_mean, "lerf": lerf_mean}
