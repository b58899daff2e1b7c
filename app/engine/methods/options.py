"""The options of the CAM methods (pytorch-grad-cam's `eigen_smooth`, `aug_smooth` and
the parameters of KPCA-CAM, FEM and FinerCAM), checked once per request.

A `CamOptions` is part of the key of a compiled function (like the layer and the
method): each distinct option set compiles once; the maps it asks for never retrace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from app.errors import InvalidInput

KPCA_KERNELS = ("linear", "poly", "rbf", "sigmoid", "cosine")  # sklearn's KernelPCA's
MAX_COMPARISON_RANK = 64
# The options that belong to one method, and that method.
METHOD_PARAMETERS = {
    "kpca_kernel": "kpcacam",
    "kpca_gamma": "kpcacam",
    "fem_k": "fem",
    "finer_alpha": "finercam",
    "finer_comparison": "finercam",
}


@dataclass(frozen=True)
class CamOptions:
    """Defaults are pytorch-grad-cam 1.5.7's."""

    eigen_smooth: bool = False  # first principal component of the method's A x weights
    aug_smooth: bool = False  # horizontal flip x (0.9, 1, 1.1), mean of the six maps
    kpca_kernel: str = "sigmoid"  # KPCA_CAM(kernel=...)
    kpca_gamma: float | None = None  # KPCA_CAM(gamma=...); None: 1 / channels
    fem_k: float = 2.0  # FEM(k=...): the k-sigma threshold
    finer_alpha: float = 1.0  # FinerCAM.forward(alpha=...)
    finer_comparison: tuple[int, ...] = (1, 2, 3)  # comparison_categories: similarity ranks


DEFAULT_OPTIONS = CamOptions()


def check_cam_options(method: str, options: CamOptions) -> None:
    """An `InvalidInput` for a value out of range or a parameter of another method."""
    for name, owner in METHOD_PARAMETERS.items():
        if owner != method and getattr(options, name) != getattr(DEFAULT_OPTIONS, name):
            raise InvalidInput(f"{name} is an option of method {owner}, not of {method}")
    if options.kpca_kernel not in KPCA_KERNELS:
        raise InvalidInput(
            f"kpca_kernel must be one of {', '.join(KPCA_KERNELS)}, not {options.kpca_kernel!r}"
        )
    gamma = options.kpca_gamma
    if gamma is not None and not (math.isfinite(gamma) and gamma > 0):
        raise InvalidInput(f"kpca_gamma must be a positive number, not {gamma!r}")
    for name in ("fem_k", "finer_alpha"):
        if not math.isfinite(getattr(options, name)):
            raise InvalidInput(f"{name} must be a finite number")
    ranks = options.finer_comparison
    if not ranks or any(not 1 <= rank <= MAX_COMPARISON_RANK for rank in ranks):
        raise InvalidInput(
            f"finer_comparison must list similarity ranks from 1 to {MAX_COMPARISON_RANK} "
            f"(1: the class scored closest to the target), not {list(ranks)}"
        )
