"""RISE (Petsiuk, Das & Saenko 2018): the score-weighted mean of random masks.

`rise_masks` N binary grids of `rise_cells` c x c cells, each cell kept with p = 0.5,
are upsampled bilinearly (half-pixel centres, `tf.image.resize`) to (c + 1) x
ceil(side / c) px, i.e. about (1 + 1/c) x the input, and cropped to the input at a random
shift in [0, ceil(side / c)) per axis, as the authors' `generate_masks`. All of it is
drawn from `numpy.random.default_rng(seed)`: grids first, then shifts. The map is
`sum_i score(x * M_i) M_i / (N p)`, x in pixel units before the card's scaling (so a
masked-out pixel is black, as in occlusion). Masks are made a chunk at a time: 2000
masks of 224 x 224 would be 400 MB at once.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from app.engine.methods.blackbox import BlackBoxOptions, Rows, Scorer, score_chunks
from app.errors import InvalidInput

KEEP_PROBABILITY = 0.5


@dataclass(frozen=True)
class RiseMasks:
    """The seeded grids and shifts of N masks for an input of `size` (H, W)."""

    grids: np.ndarray  # (N, c, c) float32 0/1
    shifts: np.ndarray  # (N, 2) int
    size: tuple[int, int]

    @classmethod
    def draw(cls, options: BlackBoxOptions, size: tuple[int, int]) -> RiseMasks:
        cells = options.rise_cells
        if not 2 <= cells <= min(size):
            raise InvalidInput(f"rise_cells must be in [2, {min(size)}], not {cells}")
        if options.rise_masks < 1:
            raise InvalidInput(f"rise_masks must be at least 1, not {options.rise_masks}")
        rng = np.random.default_rng(options.seed)
        grids = rng.random((options.rise_masks, cells, cells)) < KEEP_PROBABILITY
        cell = cls.cell_size(size, cells)
        shifts = np.stack(
            [
                rng.integers(0, cell[0], options.rise_masks),
                rng.integers(0, cell[1], options.rise_masks),
            ],
            axis=1,
        )
        return cls(grids.astype(np.float32), shifts, size)

    @staticmethod
    def cell_size(size: tuple[int, int], cells: int) -> tuple[int, int]:
        return (-(-size[0] // cells), -(-size[1] // cells))

    def __len__(self) -> int:
        return len(self.grids)

    def masks(self, start: int, stop: int) -> np.ndarray:
        """Masks `start..stop-1`, `(k, H, W)` float32 in [0, 1]."""
        cells = self.grids.shape[1]
        cell = self.cell_size(self.size, cells)
        upsampled = (cells + 1) * cell[0], (cells + 1) * cell[1]
        grids = self.grids[start:stop, :, :, None]
        big = tf.image.resize(grids, upsampled, method="bilinear").numpy()[..., 0]
        height, width = self.size
        return np.stack(
            [
                big[i, dy : dy + height, dx : dx + width]
                for i, (dy, dx) in enumerate(self.shifts[start:stop])
            ]
        )


def rise_map(scorer: Scorer, rows: Rows, options: BlackBoxOptions, chunk_rows: int) -> np.ndarray:
    """Raw maps `(N, H, W)`: `sum_i score_i M_i / (N p)` for each row's sample and target."""
    size = (int(rows.pixels.shape[1]), int(rows.pixels.shape[2]))
    masks = RiseMasks.draw(options, size)
    samples = np.unique(rows.sample)
    per_chunk = max(1, chunk_rows // len(samples))  # masks per scorer call, every sample
    maps = np.zeros((len(rows.sample), *size))
    for start in range(0, len(masks), per_chunk):
        chunk = masks.masks(start, start + per_chunk)

        def masked(chunk: np.ndarray = chunk) -> Iterator[np.ndarray]:
            for b in samples:
                yield from rows.pixels[b] * chunk[..., None]

        scores, _ = score_chunks(scorer, masked(), chunk_rows)
        scores = scores.reshape(len(samples), len(chunk), -1)
        for row, (b, target) in enumerate(zip(rows.sample, rows.targets, strict=True)):
            weights = scores[np.searchsorted(samples, b), :, target]
            maps[row] += np.tensordot(weights, chunk, axes=1)
    return maps / (len(masks) * KEEP_PROBABILITY)
