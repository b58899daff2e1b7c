import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from app.errors import InvalidInput
from app.render.text_spans import (
    INTERPOLATION_KINDS,
    resize_to_tokens,
    source_spans,
    strip_padding,
    unpadded_slice,
    weighted_spans,
)

_FINITE = st.floats(-1e3, 1e3, allow_nan=False)


# --- resize_to_tokens -------------------------------------------------------


def test_reference_example_linear() -> None:
    resized = resize_to_tokens(np.array([0.1, 0.5, -0.2]), 6)
    np.testing.assert_allclose(resized, [0.1, 0.26, 0.42, 0.36, 0.08, -0.2], atol=1e-12)


def test_reference_example_nearest() -> None:
    resized = resize_to_tokens(np.array([0.1, 0.5, -0.2]), 6, kind="nearest")
    np.testing.assert_array_equal(resized, [0.1, 0.1, 0.5, 0.5, -0.2, -0.2])


def test_a_single_value_is_repeated() -> None:
    np.testing.assert_array_equal(resize_to_tokens(np.array([0.7]), 4), [0.7] * 4)


@given(arrays(np.float64, st.integers(2, 30), elements=_FINITE), st.integers(1, 60))
def test_linear_agrees_with_numpy_interp(cam: np.ndarray, n_tokens: int) -> None:
    positions = np.linspace(0, 1, n_tokens)
    expected = np.interp(positions, np.linspace(0, 1, cam.size), cam)
    np.testing.assert_allclose(resize_to_tokens(cam, n_tokens), expected, atol=1e-9)


@pytest.mark.parametrize("kind", list(INTERPOLATION_KINDS))
def test_every_kind_gives_one_value_per_token_and_pins_the_ends(kind: str) -> None:
    cam = np.array([0.3, -0.1, 0.9, 0.4, 0.0])
    resized = resize_to_tokens(cam, 12, kind=kind)
    assert resized.shape == (12,) and resized.dtype == np.float64
    np.testing.assert_allclose(resized[[0, -1]], cam[[0, -1]], atol=1e-12)


@pytest.mark.parametrize("kind", ["linear", "cubic", "nearest"])
def test_same_length_is_the_identity(kind: str) -> None:
    cam = np.array([0.3, -0.1, 0.9, 0.4, 0.0])
    np.testing.assert_allclose(resize_to_tokens(cam, 5, kind=kind), cam, atol=1e-12)


@pytest.mark.parametrize(("kind", "length", "needed"), [("cubic", 3, 4), ("quadratic", 2, 3)])
def test_too_short_for_the_kind_says_what_to_do(kind: str, length: int, needed: int) -> None:
    with pytest.raises(InvalidInput) as caught:
        resize_to_tokens(np.linspace(0, 1, length), 10, kind=kind)
    assert f"at least {needed}" in caught.value.detail
    assert "'linear'" in caught.value.detail


def test_cubic_works_from_four_positions() -> None:
    assert resize_to_tokens(np.array([0.0, 1.0, 0.0, 1.0]), 7, kind="cubic").shape == (7,)


def test_unknown_kind_lists_the_valid_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        resize_to_tokens(np.zeros(3), 4, kind="spline")
    assert all(kind in caught.value.detail for kind in INTERPOLATION_KINDS)


@pytest.mark.parametrize(("cam", "n_tokens"), [(np.zeros((2, 2)), 4), (np.zeros(0), 4)])
def test_refuses_maps_that_are_not_1d(cam: np.ndarray, n_tokens: int) -> None:
    with pytest.raises(InvalidInput):
        resize_to_tokens(cam, n_tokens)


def test_refuses_zero_tokens() -> None:
    with pytest.raises(InvalidInput):
        resize_to_tokens(np.zeros(3), 0)


# --- strip_padding ----------------------------------------------------------

_TOKENS = ["<pad>", "the", "cat", "<pad>", "sat", "<pad>"]
_IDS = [0, 5, 6, 0, 7, 0]
_HEAT = np.array([0.0, 0.1, 0.2, 0.3, 0.4, 0.5])


def test_post_keeps_what_precedes_the_first_pad_id() -> None:
    tokens = ["the", "cat", "<pad>", "sat", "<pad>"]
    kept, heat = strip_padding(tokens, [5, 6, 0, 7, 0], _HEAT[:5], pad_value=0, padding="post")
    assert kept == ["the", "cat"]
    np.testing.assert_array_equal(heat, [0.0, 0.1])


def test_pre_keeps_what_follows_the_last_pad_id() -> None:
    kept, heat = strip_padding(_TOKENS, _IDS, _HEAT, pad_value=0, padding="pre")
    assert kept == []
    assert heat.shape == (0,)
    tokens, ids = ["<pad>", "<pad>", "the", "cat"], [0, 0, 5, 6]
    kept, heat = strip_padding(tokens, ids, _HEAT[:4], pad_value=0, padding="pre")
    assert kept == ["the", "cat"]
    np.testing.assert_array_equal(heat, [0.2, 0.3])


def test_a_string_pad_value_matches_tokens() -> None:
    kept, heat = strip_padding(_TOKENS[1:], None, _HEAT[1:], pad_value="<pad>", padding="post")
    assert kept == ["the", "cat"]
    np.testing.assert_array_equal(heat, [0.1, 0.2])


@pytest.mark.parametrize("pad_value", [None, 99, "<nothing>"])
def test_nothing_is_removed_without_matching_padding(pad_value: int | str | None) -> None:
    kept, heat = strip_padding(_TOKENS, _IDS, _HEAT, pad_value=pad_value, padding="post")
    assert kept == _TOKENS
    np.testing.assert_array_equal(heat, _HEAT)


def test_padding_goes_after_resizing() -> None:
    # Resized first, the two real tokens share the map with the padding:
    # [0, 0.9] over 4 tokens is [0, 0.3, 0.6, 0.9]; the real tokens keep [0, 0.3].
    tokens, ids = ["good", "film", "<pad>", "<pad>"], [3, 4, 0, 0]
    resized = resize_to_tokens(np.array([0.0, 0.9]), len(tokens))
    kept, heat = strip_padding(tokens, ids, resized, pad_value=0, padding="post")
    assert kept == ["good", "film"]
    np.testing.assert_allclose(heat, [0.0, 0.3])


@pytest.mark.parametrize(
    ("ids", "heat", "padding"),
    [
        (None, _HEAT, "post"),  # an id pad value needs ids
        (_IDS[:3], _HEAT, "post"),
        (_IDS, _HEAT[:3], "post"),
        (_IDS, _HEAT, "middle"),
    ],
)
def test_refuses_inconsistent_input(ids: list[int] | None, heat: np.ndarray, padding: str) -> None:
    with pytest.raises(InvalidInput):
        strip_padding(_TOKENS, ids, heat, pad_value=0, padding=padding)


# --- weighted_spans ---------------------------------------------------------


def test_word_tokens_are_joined_by_spaces() -> None:
    document, spans = weighted_spans(["to", "be", "to"], np.array([0.5, -0.25, 0.0]))
    assert document == "to be to"
    assert spans == [("to", [(0, 2)], 0.5), ("be", [(3, 5)], -0.25), ("to", [(6, 8)], 0.0)]


def test_character_tokens_are_joined_by_nothing() -> None:
    document, spans = weighted_spans(["h", "i", " ", "y", "o"], np.arange(5.0))
    assert document == "hi yo"
    assert [ranges for _, ranges, _ in spans] == [[(i, i + 1)] for i in range(5)]


def test_a_token_inside_the_previous_one_is_found_after_it() -> None:
    document, spans = weighted_spans(["abab", "ab"], np.array([1.0, 2.0]))
    assert document == "abab ab"
    assert spans[1][1] == [(5, 7)]


def test_weights_become_python_floats() -> None:
    _, spans = weighted_spans(["a"], np.array([0.25], dtype=np.float32))
    assert type(spans[0][2]) is float


def test_no_tokens_make_an_empty_document() -> None:
    assert weighted_spans([], np.zeros(0)) == ("", [])


def test_refuses_mismatched_weights() -> None:
    with pytest.raises(InvalidInput):
        weighted_spans(["a", "b"], np.zeros(3))


@given(st.lists(st.text(min_size=1).filter(lambda t: " " not in t), min_size=1, max_size=20))
def test_every_span_covers_its_token_in_order(tokens: list[str]) -> None:
    document, spans = weighted_spans(tokens, np.linspace(-1, 1, len(tokens)))
    previous_end = 0
    for token, ((start, end),), _ in spans:
        assert document[start:end] == token
        assert start >= previous_end
        previous_end = end


# --- spans on the text as sent (word-filtered models) ---------------------------------


def test_source_spans_keep_each_tokens_range_and_none_for_padding() -> None:
    spans = source_spans(["a", " ", "<PAD>"], [(0, 1), (1, 3), None], np.array([0.5, 0.25, 0]))
    assert spans == [("a", [(0, 1)], 0.5), (" ", [(1, 3)], 0.25), ("<PAD>", [], 0.0)]
    assert all(type(weight) is float for _, _, weight in spans)


def test_source_spans_refuse_mismatched_lengths() -> None:
    with pytest.raises(InvalidInput, match="2 tokens, 1 ranges"):
        source_spans(["a", "b"], [(0, 1)], np.array([1.0, 2.0]))


@pytest.mark.parametrize(("padding", "expected"), [("post", slice(0, 2)), ("pre", slice(3, 4))])
def test_unpadded_slice_is_what_strip_padding_keeps(padding: str, expected: slice) -> None:
    tokens, ids = ["a", "b", "<p>", "c"], [5, 6, 0, 7]
    keep = unpadded_slice(tokens, ids, pad_value=0, padding=padding)
    assert keep == expected
    kept, _ = strip_padding(tokens, ids, np.arange(4.0), pad_value=0, padding=padding)
    assert kept == tokens[keep]
