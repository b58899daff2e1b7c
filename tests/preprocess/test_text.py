import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.errors import InvalidInput, ModelError
from app.preprocess.text import (
    TextSpec,
    TokenSequence,
    check_ids,
    pad_sequence,
    text_sequence,
    token_ids,
    tokenize,
)

VOCAB = ("<pad>", "<unk>", "the", "cat", "sat", "Dog", "the")


def _spec(**changes: Any) -> TextSpec:
    fields: dict[str, Any] = {
        "vocab": VOCAB,
        "tokenizer": "whitespace",
        "lowercase": True,
        "sequence_length": 6,
        "pad_id": 0,
        "pad_token": "<pad>",
        "padding": "post",
        "oov_id": 1,
    }
    return TextSpec(**(fields | changes))


# --- tokenize ----------------------------------------------------------------


def test_whitespace_tokens_are_lowercased() -> None:
    assert tokenize("  The CAT\tsat\n", _spec()) == ["the", "cat", "sat"]


def test_case_is_kept_when_the_model_is_cased() -> None:
    assert tokenize("The Dog", _spec(lowercase=False)) == ["The", "Dog"]


def test_character_tokens_keep_spaces() -> None:
    assert tokenize("Hi yo", _spec(tokenizer="char")) == ["h", "i", " ", "y", "o"]


def test_empty_text_has_no_tokens() -> None:
    assert tokenize("   ", _spec()) == []


# --- token_ids ---------------------------------------------------------------


def test_known_and_unknown_tokens() -> None:
    assert token_ids(["the", "cat", "zebra"], _spec()) == [2, 3, 1]


def test_lookup_lowercases_given_tokens() -> None:
    assert token_ids(["THE", "Cat"], _spec()) == [2, 3]


def test_cased_lookup() -> None:
    spec = _spec(lowercase=False)
    assert token_ids(["Dog", "dog", "The"], spec) == [5, 1, 1]


def test_a_token_listed_twice_keeps_its_first_line() -> None:
    assert _spec().token_index["the"] == 2


def test_the_index_is_built_once() -> None:
    spec = _spec()
    assert spec.token_index is spec.token_index


# --- check_ids ---------------------------------------------------------------


def test_ids_inside_the_vocabulary_pass() -> None:
    check_ids([0, 3, len(VOCAB) - 1], _spec())


def test_ids_outside_the_vocabulary_are_named() -> None:
    with pytest.raises(InvalidInput) as caught:
        check_ids([2, -1, 3, len(VOCAB)], _spec())
    assert "-1 at position 1" in caught.value.detail
    assert f"{len(VOCAB)} at position 3" in caught.value.detail
    assert f"[0, {len(VOCAB)})" in caught.value.detail


# --- pad_sequence ------------------------------------------------------------


def test_post_padding() -> None:
    padded = pad_sequence(["the", "cat"], [2, 3], _spec(sequence_length=4), "post")
    assert padded == (["the", "cat", "<pad>", "<pad>"], [2, 3, 0, 0])


def test_pre_padding() -> None:
    padded = pad_sequence(["the", "cat"], [2, 3], _spec(sequence_length=4), "pre")
    assert padded == (["<pad>", "<pad>", "the", "cat"], [0, 0, 2, 3])


def test_full_length_is_unchanged() -> None:
    assert pad_sequence(["a", "b"], [1, 1], _spec(sequence_length=2), "post") == (
        ["a", "b"],
        [1, 1],
    )


def test_no_sequence_length_means_no_padding() -> None:
    assert pad_sequence(["a"], [1], _spec(sequence_length=None), "pre") == (["a"], [1])


def test_too_many_tokens() -> None:
    with pytest.raises(InvalidInput) as caught:
        pad_sequence(["w"] * 60, [1] * 60, _spec(sequence_length=48), "post")
    assert caught.value.detail == "text has 60 tokens; model takes at most 48"


@pytest.mark.parametrize(
    ("tokens", "ids", "padding"),
    [([], [], "post"), (["a", "b"], [1], "post"), (["a"], [1], "left")],
    ids=["empty", "mismatched", "bad-side"],
)
def test_refuses_bad_sequences(tokens: list[str], ids: list[int], padding: str) -> None:
    with pytest.raises(InvalidInput):
        pad_sequence(tokens, ids, _spec(), padding)


@given(
    st.lists(st.sampled_from(VOCAB[2:]), min_size=1, max_size=10), st.sampled_from(["post", "pre"])
)
def test_padding_keeps_the_tokens_in_order(tokens: list[str], padding: str) -> None:
    spec = _spec(sequence_length=10)
    padded_tokens, padded_ids = pad_sequence(tokens, token_ids(tokens, spec), spec, padding)
    assert len(padded_tokens) == len(padded_ids) == 10
    real = slice(0, len(tokens)) if padding == "post" else slice(10 - len(tokens), 10)
    assert padded_tokens[real] == tokens
    assert padded_ids[real] == token_ids(tokens, spec)
    assert padded_ids.count(0) == 10 - len(tokens)


# --- TextSpec validation -------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"vocab": ()},
        {"tokenizer": "bpe"},
        {"padding": "middle"},
        {"sequence_length": 0},
        {"pad_id": len(VOCAB)},
        {"oov_id": -1},
    ],
)
def test_a_bad_spec_is_a_model_error(changes: dict[str, Any]) -> None:
    with pytest.raises(ModelError):
        _spec(**changes)


def test_spec_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _spec().pad_id = 3  # type: ignore[misc]


# --- word filter and truncation ----------------------------------------------


def test_a_word_filtered_char_spec_reads_the_words_joined_by_spaces() -> None:
    spec = _spec(
        vocab=("<pad>", "<unk>", " ", "a", "b"),
        tokenizer="char",
        lowercase=False,
        filters="!.,",
        sequence_length=10,
    )
    sequence = text_sequence("a, b!!  ab.", spec)
    assert sequence.tokens == list("a b ab")
    assert sequence.ids == [3, 2, 4, 2, 3, 4]
    assert sequence.ranges == [(0, 1), (1, 3), (3, 4), (4, 8), (8, 9), (9, 10)]


def test_a_word_filtered_whitespace_spec_reads_keras_words() -> None:
    sequence = text_sequence("The cat, the DOG.", _spec(filters=",."))
    assert sequence.tokens == ["the", "cat", "the", "dog"]
    assert sequence.ids == [2, 3, 2, 1]
    assert sequence.ranges == [(0, 3), (4, 7), (9, 12), (13, 16)]


def test_a_spec_without_filter_has_no_ranges() -> None:
    assert text_sequence("the cat", _spec()).ranges is None


@pytest.mark.parametrize(("side", "kept"), [("post", ["a", "b"]), ("pre", ["c", "d"])])
def test_truncating_keeps_one_side(side: str, kept: list[str]) -> None:
    spec = _spec(sequence_length=2, truncating=side)
    sequence = TokenSequence(list("abcd"), [1, 2, 3, 4], [(0, 1), (1, 2), (2, 3), (3, 4)])
    cut = sequence.truncated(spec)
    assert cut.tokens == kept
    assert cut.ids == ([1, 2] if side == "post" else [3, 4])
    assert cut.ranges == ([(0, 1), (1, 2)] if side == "post" else [(2, 3), (3, 4)])


def test_without_truncating_a_long_sequence_is_left_to_be_refused() -> None:
    sequence = TokenSequence(list("abc"), [1, 1, 1])
    assert sequence.truncated(_spec(sequence_length=2)) is sequence
    with pytest.raises(InvalidInput, match="at most 2"):
        pad_sequence(sequence.tokens, sequence.ids, _spec(sequence_length=2), "post")


def test_a_bad_truncating_side_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="truncating"):
        _spec(truncating="middle")
