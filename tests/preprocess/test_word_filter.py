"""Keras' word filter with source ranges, against tf-keras' own text_to_word_sequence."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tf_keras.preprocessing.text import text_to_word_sequence

from app.preprocess.word_filter import KERAS_FILTERS, keras_word_chars, keras_words

# Filtered characters, spaces, other whitespace Keras keeps inside words, letters whose
# lowercase is longer (U+0130) or context dependent (sigma).
ALPHABET = "ab X.,\n\t-!\"\\]^`~'\r\u00a0\u0130\u03a3\u00e9\u20ac"
texts = st.text(alphabet=ALPHABET, max_size=40)


def test_the_default_filters_are_keras_own():
    assert text_to_word_sequence(KERAS_FILTERS + "a" + KERAS_FILTERS) == ["a"]
    assert all(text_to_word_sequence(f"a{char}b") == ["a", "b"] for char in KERAS_FILTERS)


@settings(max_examples=300, deadline=None)
@given(text=texts, lowercase=st.booleans())
def test_words_equal_text_to_word_sequence(text, lowercase):
    words = keras_words(text, KERAS_FILTERS, lowercase)
    assert words.tokens == text_to_word_sequence(text, lower=lowercase)


@settings(max_examples=300, deadline=None)
@given(text=texts, lowercase=st.booleans())
def test_chars_are_the_words_joined_by_single_spaces(text, lowercase):
    chars = keras_word_chars(text, KERAS_FILTERS, lowercase)
    assert chars.tokens == list(" ".join(text_to_word_sequence(text, lower=lowercase)))


@settings(max_examples=300, deadline=None)
@given(text=texts)
def test_each_token_points_at_what_it_stands_for(text):
    chars = keras_word_chars(text, KERAS_FILTERS, lowercase=False)
    previous_end = 0
    for token, (start, end) in zip(chars.tokens, chars.ranges, strict=True):
        assert previous_end <= start < end <= len(text)
        if token == " ":  # the gap between two words: separators only
            assert set(text[start:end]) <= set(KERAS_FILTERS + " ")
        else:
            assert text[start:end] == token
        previous_end = end


def test_word_ranges_cover_the_words_in_the_original():
    text = 'Escrow, "shortage"... (again)'
    words = keras_words(text, KERAS_FILTERS, lowercase=True)
    assert words.tokens == ["escrow", "shortage", "again"]
    assert [text[start:end] for start, end in words.ranges] == ["Escrow", "shortage", "again"]


def test_a_joining_space_covers_the_whole_gap():
    chars = keras_word_chars("loan -- fees", KERAS_FILTERS, lowercase=False)
    assert chars.tokens == list("loan fees")
    assert chars.ranges[4] == (4, 8)  # " -- "


def test_a_letter_lowercased_to_two_maps_both_back_to_itself():
    chars = keras_word_chars("\u0130X", KERAS_FILTERS, lowercase=True)
    assert chars.tokens == ["i", "\u0307", "x"]
    assert chars.ranges == [(0, 1), (0, 1), (1, 2)]


@pytest.mark.parametrize("filters", ["", "x", "]^-"])
def test_other_filters_are_taken_literally(filters):
    text = "ax]b^c-d e"
    words = keras_words(text, filters, lowercase=False)
    assert words.tokens == text_to_word_sequence(text, filters=filters, lower=False)
    assert all(re.fullmatch(r"\S+", word) for word in words.tokens)
