"""Text heatmaps to tokens and weighted spans, as ELI5's text branch does it.

The steps run in this order: `resize_to_tokens` (map positions -> tokens),
`strip_padding` (after resizing, so padding still takes its share of the map),
then `weighted_spans` (document and character ranges for the highlighter).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import interp1d

from app.errors import InvalidInput

Range = tuple[int, int]
WeightedSpan = tuple[str, list[Range], float]

# scipy's interp1d kinds -> the fewest map positions each one can interpolate.
INTERPOLATION_KINDS: dict[str, int] = {
    "linear": 2,
    "nearest": 2,
    "nearest-up": 2,
    "zero": 2,
    "slinear": 2,
    "quadratic": 3,
    "cubic": 4,
    "previous": 2,
    "next": 2,
}

PADDING_SIDES = ("post", "pre")


def resize_to_tokens(cam: np.ndarray, n_tokens: int, kind: str = "linear") -> np.ndarray:
    """Resize a (T,) map to (n_tokens,) float64 by interpolation over [0, 1].

    Both ends are pinned: the first and last tokens take the first and last map
    values. A length-1 map (e.g. after global pooling) is repeated.
    """
    if kind not in INTERPOLATION_KINDS:
        valid = ", ".join(INTERPOLATION_KINDS)
        raise InvalidInput(f"unknown interpolation {kind!r}; valid kinds: {valid}")
    if cam.ndim != 1 or cam.size == 0:
        raise InvalidInput(f"a text heatmap must be 1-D and non-empty, got shape {cam.shape}")
    if n_tokens < 1:
        raise InvalidInput(f"cannot resize a heatmap to {n_tokens} tokens")
    if cam.size == 1:
        return np.repeat(cam.astype(np.float64), n_tokens)
    needed = INTERPOLATION_KINDS[kind]
    if cam.size < needed:
        raise InvalidInput(
            f"interpolation {kind!r} needs at least {needed} heatmap positions but the "
            f"layer gives {cam.size}; use 'linear' or a layer with more positions"
        )
    interpolant = interp1d(np.linspace(0.0, 1.0, cam.size), cam, kind=kind)
    return np.asarray(interpolant(np.linspace(0.0, 1.0, n_tokens)), dtype=np.float64)


def strip_padding(
    tokens: list[str],
    ids: list[int] | None,
    heatmap: np.ndarray,
    *,
    pad_value: int | str | None,
    padding: str,
) -> tuple[list[str], np.ndarray]:
    """Drop the padding side of `tokens` and `heatmap` (both of one length).

    A position is padding when its id equals an int `pad_value` or its token equals
    a str `pad_value`. "post" keeps what precedes the first pad, "pre" what follows
    the last one; `pad_value=None` keeps everything.
    """
    if len(tokens) != len(heatmap):
        raise InvalidInput(f"{len(tokens)} tokens but {len(heatmap)} heatmap values")
    keep = unpadded_slice(tokens, ids, pad_value=pad_value, padding=padding)
    return tokens[keep], heatmap[keep]


def unpadded_slice(
    tokens: list[str], ids: list[int] | None, *, pad_value: int | str | None, padding: str
) -> slice:
    """The positions `strip_padding` keeps."""
    if padding not in PADDING_SIDES:
        raise InvalidInput(f"padding must be 'post' or 'pre', got {padding!r}")
    if pad_value is None:
        return slice(0, len(tokens))
    pad_positions = _pad_positions(tokens, ids, pad_value)
    if not pad_positions:
        return slice(0, len(tokens))
    if padding == "post":
        return slice(0, pad_positions[0])
    return slice(pad_positions[-1] + 1, len(tokens))


def _pad_positions(tokens: list[str], ids: list[int] | None, pad_value: int | str) -> list[int]:
    if isinstance(pad_value, str):
        return [i for i, token in enumerate(tokens) if token == pad_value]
    if ids is None:
        raise InvalidInput("an integer pad value needs token ids to find the padding")
    if len(ids) != len(tokens):
        raise InvalidInput(f"{len(tokens)} tokens but {len(ids)} token ids")
    return [i for i, token_id in enumerate(ids) if token_id == pad_value]


def weighted_spans(tokens: list[str], weights: np.ndarray) -> tuple[str, list[WeightedSpan]]:
    """The document the tokens make and one `(token, [(start, end)], weight)` per token.

    Tokens are joined by a space, or by nothing when any token holds a space
    (character tokens). Each token is found at or after the end of the previous one.
    """
    if len(tokens) != len(weights):
        raise InvalidInput(f"{len(tokens)} tokens but {len(weights)} weights")
    separator = "" if any(" " in token for token in tokens) else " "
    document = separator.join(tokens)
    spans: list[WeightedSpan] = []
    search_from = 0
    for token, weight in zip(tokens, weights, strict=True):
        start = document.index(token, search_from)
        end = start + len(token)
        spans.append((token, [(start, end)], float(weight)))
        search_from = end
    return document, spans


def source_spans(
    tokens: list[str], ranges: list[Range | None], weights: np.ndarray
) -> list[WeightedSpan]:
    """One `(token, [(start, end)], weight)` per token, at the range of the original text it
    stands for (word-filtered texts); a token from no text (padding) has no range."""
    if not len(tokens) == len(ranges) == len(weights):
        raise InvalidInput(f"{len(tokens)} tokens, {len(ranges)} ranges, {len(weights)} weights")
    return [
        (token, [] if where is None else [where], float(weight))
        for token, where, weight in zip(tokens, ranges, weights, strict=True)
    ]
