"""How alike two maps are: Spearman rank correlation and SSIM, as the sanity checks use them.

Both follow Quantus 0.6's `correlation_spearman` and `ssim` (the latter is scikit-image's
`structural_similarity` with its defaults: a 7-wide uniform window, sample covariance,
K1 = 0.01, K2 = 0.03, the mean over the window centres that fit, and `data_range` the span
of both maps together), written here in numpy/scipy so the service needs neither.
Where they give NaN this gives a number: a constant map has no ranks to agree with
(Spearman 0), and two equal constant maps are the same picture (SSIM 1).
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter
from scipy.stats import spearmanr

SSIM_WINDOW = 7
K1, K2 = 0.01, 0.03


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho of two maps of the same shape (any shape, read flat), in [-1, 1]."""
    x, y = np.ravel(a).astype(np.float64), np.ravel(b).astype(np.float64)
    if x.shape != y.shape:
        raise ValueError(f"maps differ in size: {np.shape(a)} and {np.shape(b)}")
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return 0.0
    return float(spearmanr(x, y)[0])


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean structural similarity of two maps `(h, w)` or `(n,)`, in [-1, 1].

    The window is 7 wide, or the largest odd width that fits a smaller map.
    """
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if x.shape != y.shape:
        raise ValueError(f"maps differ in shape: {x.shape} and {y.shape}")
    data_range = float(max(x.max(), y.max()) - min(x.min(), y.min()))
    if data_range == 0:
        return 1.0  # two equal constant maps
    win = min(SSIM_WINDOW, *x.shape)
    win -= 1 - win % 2
    if win < 1:
        raise ValueError(f"maps of shape {x.shape} are too small for SSIM")
    n_points = win**x.ndim
    cov_norm = n_points / (n_points - 1) if n_points > 1 else 1.0

    def mean(values: np.ndarray) -> np.ndarray:
        return np.asarray(uniform_filter(values, size=win))

    ux, uy = mean(x), mean(y)
    vx = cov_norm * (mean(x * x) - ux * ux)
    vy = cov_norm * (mean(y * y) - uy * uy)
    vxy = cov_norm * (mean(x * y) - ux * uy)
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
    pad = (win - 1) // 2
    inner = tuple(slice(pad, dim - pad) for dim in x.shape)
    return float(s[inner].mean())
