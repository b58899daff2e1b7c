"""Targets as rows: one row per (sample, target) map, each row saying what it explains.

A row is a class (or label, or value index) plus, for the heads that take them, a region
at the output's grid (segmentation) and a box or a predicted box's index (detection).
The rows enter the compiled pass as fixed-shape tensors, so no request retraces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

TOP = -1  # "the sample's top prediction", resolved inside the compiled step
NO_BOX = (0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class Target:
    """One requested target.

    `region`: (h', w') at the explained output's grid, non-zero = inside; None: the
    pixels predicted as `cls`. `box`: (x0, y0, x1, y1) normalised to the model input
    ([0, 1]); `anchor`: the index of a predicted box (default targets of detection).
    """

    cls: int = TOP
    region: np.ndarray | None = None
    box: tuple[float, float, float, float] | None = None
    anchor: int = -1

    @property
    def kind(self) -> str:
        if self.box is not None or self.anchor >= 0:
            return "box"
        return "region" if self.region is not None else "class"


@dataclass(frozen=True)
class TargetRows:
    """N rows: `sample` (N,) int32, `target` (N,) int32 (TOP: top prediction), `region`
    (N, P) float32 (P = h' * w' of a segmentation output, else 1; a row of -1: the
    predicted pixels of the class), `box` (N, 4) float32 xyxy in [0, 1], `anchor` (N,)
    int32 (-1: the predicted box that best overlaps `box`)."""

    sample: np.ndarray
    target: np.ndarray
    region: np.ndarray
    box: np.ndarray
    anchor: np.ndarray

    def __len__(self) -> int:
        return len(self.sample)

    @staticmethod
    def build(sample: Sequence[int], targets: Sequence[Target], region_size: int) -> TargetRows:
        region = np.full((len(targets), region_size), -1.0, dtype=np.float32)
        for row, target in enumerate(targets):
            if target.region is not None:
                region[row] = (np.asarray(target.region).reshape(-1) != 0).astype(np.float32)
        return TargetRows(
            sample=np.asarray(sample, dtype=np.int32).reshape(-1),
            target=np.array([t.cls for t in targets], dtype=np.int32).reshape(-1),
            region=region,
            box=np.array([t.box or NO_BOX for t in targets], dtype=np.float32).reshape(-1, 4),
            anchor=np.array([t.anchor for t in targets], dtype=np.int32).reshape(-1),
        )

    def take(self, index: np.ndarray) -> TargetRows:
        return TargetRows(
            self.sample[index], self.target[index], self.region[index], self.box[index],
            self.anchor[index],
        )  # fmt: skip
