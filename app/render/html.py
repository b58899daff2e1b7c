"""Weighted text spans to HTML, reproducing ELI5's text highlighter.

Green backgrounds for positive weights, red for negative; the stronger the
weight relative to the strongest one, the darker and more opaque the span.
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Sequence

import numpy as np

from app.render.text_spans import WeightedSpan

# ELI5 tests weights with np.isclose(w, 0), i.e. |w| <= its default atol.
_ZERO_TOLERANCE = 1e-8
_MIN_OPACITY = 0.8
_MIN_LIGHTNESS = 0.6


def highlight_html(document: str, spans: Sequence[WeightedSpan]) -> str:
    """HTML for `document` with each run of equally weighted characters in a `<span>`.

    A character's weight is the sum of the weights of the spans covering it
    (0 when none does). Unlike ELI5, a weight is not divided by the number of
    spans sharing its token text: Grad-CAM weighs every occurrence on its own.
    """
    char_weights = _char_weights(document, spans)
    weight_range = float(np.max(np.abs(char_weights))) if len(document) else 0.0
    runs = itertools.groupby(zip(document, char_weights.tolist(), strict=True), key=_weight)
    return "".join(
        _span_html("".join(char for char, _ in run), weight, weight_range) for weight, run in runs
    )


def _weight(char_and_weight: tuple[str, float]) -> float:
    return char_and_weight[1]


def _char_weights(document: str, spans: Sequence[WeightedSpan]) -> np.ndarray:
    weights = np.zeros(len(document))
    for _token, ranges, weight in spans:
        for start, end in ranges:
            # ELI5 clamps: a start of -1 (a token not found) means "from the start".
            weights[max(0, start) : end] += weight
    return weights


def _span_html(text: str, weight: float, weight_range: float) -> str:
    escaped = html.escape(text, quote=True)
    opacity = _opacity(weight, weight_range)
    if abs(weight) <= _ZERO_TOLERANCE:
        return f'<span style="opacity: {opacity}">{escaped}</span>'
    return (
        f'<span style="background-color: {_hsl(weight, weight_range)}; opacity: {opacity}" '
        f'title="{weight:.3f}">{escaped}</span>'
    )


def _opacity(weight: float, weight_range: float) -> str:
    if abs(weight) <= _ZERO_TOLERANCE and abs(weight_range) <= _ZERO_TOLERANCE:
        relative = 0.0
    else:
        relative = abs(weight) / weight_range
    return f"{_MIN_OPACITY + (1 - _MIN_OPACITY) * relative:.2f}"


def _hsl(weight: float, weight_range: float) -> str:
    hue = 120 if weight > 0 else 0
    # The 0.7 power lifts weak weights so they stay visible.
    lightness = 1.0 - (1 - _MIN_LIGHTNESS) * (abs(weight) / weight_range) ** 0.7
    return f"hsl({hue}, {1:.2%}, {lightness:.2%})"
