"""Keras 2's `text_to_word_sequence`, keeping where each word came from in the text.

Keras lowercases (when asked), turns every character of `filters` into the split
character, splits on it and drops the empty words. A model trained on that sees the
words, or, for a character model, the characters of the words joined by single
spaces. `FilteredText` holds those tokens together with the range of the original
text each one stands for, so a highlight can be drawn on the text as it was sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# keras.preprocessing.text.text_to_word_sequence's default `filters` (Keras 2, tf_keras).
KERAS_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
SPLIT = " "

Range = tuple[int, int]


@dataclass(frozen=True)
class FilteredText:
    """Tokens of a filtered text and, per token, its `[start, end)` in the original."""

    tokens: list[str]
    ranges: list[Range]


def keras_words(text: str, filters: str, lowercase: bool) -> FilteredText:
    """The words `text_to_word_sequence(text, filters, lower=lowercase)` returns."""
    model_text, origin = model_view(text, lowercase)
    words = word_bounds(model_text, filters)
    return FilteredText(
        tokens=[model_text[start:end] for start, end in words],
        ranges=[(origin[start], origin[end - 1] + 1) for start, end in words],
    )


def keras_word_chars(text: str, filters: str, lowercase: bool) -> FilteredText:
    """The characters of `" ".join(text_to_word_sequence(...))`, one token each.

    A joining space stands for the whole gap between its two words in the original
    (spaces and filtered characters alike), so the gap is highlighted with its weight.
    """
    model_text, origin = model_view(text, lowercase)
    tokens: list[str] = []
    ranges: list[Range] = []
    previous_end: int | None = None
    for start, end in word_bounds(model_text, filters):
        if previous_end is not None:
            tokens.append(SPLIT)
            ranges.append((origin[previous_end - 1] + 1, origin[start]))
        tokens.extend(model_text[start:end])
        ranges.extend((origin[index], origin[index] + 1) for index in range(start, end))
        previous_end = end
    return FilteredText(tokens, ranges)


def model_view(text: str, lowercase: bool) -> tuple[str, list[int]]:
    """The text Keras filters (lowercased or not) and, per character, its original index.

    `str.lower` turns a few characters into two (U+0130 "İ" into "i̇"): both map back to
    the one they came from. Lowercasing the whole text, as Keras does, differs from
    lowercasing character by character only in the final form of sigma, never in length.
    """
    if not lowercase:
        return text, list(range(len(text)))
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered, list(range(len(text)))
    origin = [index for index, char in enumerate(text) for _ in char.lower()]
    return lowered, origin


def word_bounds(text: str, filters: str) -> list[Range]:
    """`[start, end)` of each non-empty run of characters that are neither split nor filter."""
    word = re.compile(f"[^{re.escape(filters + SPLIT)}]+")
    return [match.span() for match in word.finditer(text)]
