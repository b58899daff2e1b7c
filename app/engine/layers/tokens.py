"""Token layers as grids: a `(B, tokens, C)` layer of an image model seen as `(B, h, w, C)`.

A vision transformer's block output holds a few leading extra tokens (class,
distillation, registers: the *prefix*) and then the patch tokens row by row. A token
layer is explained on the grid of its patch tokens, so every CAM method sees the usual
`(B, h, w, C)` map. The grid is declared by the card (`[image] token_grid`,
`prefix_tokens`) or inferred: the smallest prefix `n` such that `tokens - n` patch
tokens form an `h x w` grid of the input's aspect, i.e. `(h, w)` is the input's
`(H, W)` divided by one stride `s` (rounded down or up, as a patch embedding or a
strided convolution with "valid" or "same" padding gives). Hierarchical (Swin-like)
stages have fewer tokens per stage and no prefix: each layer gets its grid from its own
count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import tensorflow as tf

# Class + distillation + a few registers; more leading tokens than this are not guessed.
MAX_PREFIX_TOKENS = 8
# A grid is at least 2x2: fewer tokens are no map (a class token alone is (B, 1, C)).
MIN_GRID_SIDE = 2


@dataclass(frozen=True)
class TokenHints:
    """What a card says about token layers (each field optional)."""

    grid: tuple[int, int] | None = None
    prefix: int | None = None


@dataclass(frozen=True)
class TokenGrid:
    """`prefix` leading tokens, then `height x width` patch tokens row by row."""

    prefix: int
    height: int
    width: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def tokens(self) -> int:
        return self.prefix + self.height * self.width

    def to_grid(self, tokens: tf.Tensor) -> tf.Tensor:
        """`(B, tokens, C)` -> `(B, h, w, C)`: the prefix tokens dropped."""
        patches = tokens[:, self.prefix :, :]
        return tf.reshape(patches, [-1, self.height, self.width, tf.shape(tokens)[-1]])

    def to_tokens(self, grid: tf.Tensor, like: tf.Tensor) -> tf.Tensor:
        """`grid` `(B, h, w, C)` back to tokens, with the prefix tokens of `like` (B, T, C)."""
        depth = like.shape[-1] if like.shape[-1] is not None else tf.shape(like)[-1]
        patches = tf.reshape(grid, [tf.shape(grid)[0], self.height * self.width, depth])
        return tf.concat([like[:, : self.prefix, :], tf.cast(patches, like.dtype)], axis=1)


class NoTokenGrid(ValueError):
    """The layer's token count fits no grid; the message says which grids were tried."""


def token_grid(
    tokens: int | None, image_size: tuple[int | None, int | None], hints: TokenHints | None = None
) -> TokenGrid:
    """The grid of a layer with `tokens` tokens in a model whose input is `image_size`."""
    hints = hints or TokenHints()
    if tokens is None:
        raise NoTokenGrid("its token count is unknown (None)")
    if hints.grid is not None:
        height, width = hints.grid
        prefix = tokens - height * width if hints.prefix is None else hints.prefix
        if prefix >= 0 and prefix + height * width == tokens:
            return TokenGrid(prefix, height, width)
    # The card's prefix first; a layer it does not fit (another stage) is inferred.
    prefixes = list(range(min(tokens, MAX_PREFIX_TOKENS) + 1))
    if hints.prefix is not None and hints.prefix <= tokens:
        prefixes = [hints.prefix, *(n for n in prefixes if n != hints.prefix)]
    for prefix in prefixes:
        shape = grid_shape(tokens - prefix, image_size)
        if shape is not None:
            return TokenGrid(prefix, *shape)
    counts = ", ".join(str(tokens - prefix) for prefix in prefixes)
    raise NoTokenGrid(
        f"tried {counts} patch tokens (after {', '.join(map(str, prefixes))} prefix tokens): "
        f"none is an h x w grid (h, w >= {MIN_GRID_SIDE}) of the {size_text(image_size)} "
        "input's aspect"
        + ("" if hints.grid is None else f", nor the card's token_grid {list(hints.grid)}")
    )


def grid_shape(count: int, image_size: tuple[int | None, int | None]) -> tuple[int, int] | None:
    """`(h, w)` with `h * w == count` and `(h, w)` the input size over one stride."""
    if count < MIN_GRID_SIDE * MIN_GRID_SIDE:
        return None
    height, width = image_size
    if height is None or width is None:  # unknown input size: only square grids
        side = math.isqrt(count)
        return (side, side) if side * side == count else None
    for rows in range(MIN_GRID_SIDE, count // MIN_GRID_SIDE + 1):
        if count % rows == 0 and fits_stride(rows, count // rows, height, width):
            return rows, count // rows
    return None


def fits_stride(rows: int, cols: int, height: int, width: int) -> bool:
    """Whether some stride `s` gives `rows = H / s` and `cols = W / s`, rounded alike."""
    for rounding in (math.floor, math.ceil):
        # The strides that give `rows` rows, then whether one of them gives `cols` columns.
        for stride in range(max(1, height // (rows + 1)), height // max(rows - 1, 1) + 2):
            if rounding(height / stride) == rows and rounding(width / stride) == cols:
                return True
    return False


def size_text(image_size: tuple[int | None, int | None]) -> str:
    return "x".join("?" if side is None else str(side) for side in image_size)
