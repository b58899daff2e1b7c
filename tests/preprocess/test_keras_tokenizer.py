"""Keras Tokenizer JSON: ids equal Keras 2's own texts_to_sequences (tf_keras, the oracle)."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tf_keras.preprocessing.text import Tokenizer

from app.errors import ModelError
from app.preprocess.keras_tokenizer import read_keras_tokenizer

CORPUS = [
    "The cat sat on the mat.",
    "A dog, a CAT; and the bird!",
    "tabs\tand\nnewlines, e-mail@example.com",
    "Zebra zebra ZEBRA cat-dog",
]
# Words, punctuation, case, tabs: what texts_to_sequences has to get exactly right.
TEXT = st.text(alphabet="the cat dog ZEBRA bird A,.;!-@\t\n\u00a0é", max_size=60)
CONFIGS = st.fixed_dictionaries(
    {
        "lower": st.booleans(),
        "oov_token": st.sampled_from([None, "<OOV>"]),
        "num_words": st.sampled_from([None, 0, 4, 8]),
        "char_level": st.booleans(),
        "split": st.sampled_from([" ", ",", "-"]),
        "filters": st.sampled_from(['!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n', "", ".;"]),
    }
)


def fitted(**config) -> Tokenizer:
    tokenizer = Tokenizer(**config)
    tokenizer.fit_on_texts(CORPUS)
    return tokenizer


@settings(max_examples=300, deadline=None)
@given(config=CONFIGS, text=TEXT)
def test_text_ids_equal_keras_texts_to_sequences(config, text):
    keras_tokenizer = fitted(**config)
    ours = read_keras_tokenizer(keras_tokenizer.to_json())
    tokens, ids = ours.text_sequence(text)
    assert ids == keras_tokenizer.texts_to_sequences([text])[0]
    assert len(tokens) == len(ids)
    # Each kept token is the word its id came from: looking it up again gives the same id.
    assert ours.tokens_sequence(tokens)[1] == ids


@settings(max_examples=200, deadline=None)
@given(config=CONFIGS, tokens=st.lists(st.sampled_from(["The", "cat", "CAT", "zebra", "?"])))
def test_token_lists_equal_keras_on_a_list_of_words(config, tokens):
    keras_tokenizer = fitted(**config)
    kept, ids = read_keras_tokenizer(keras_tokenizer.to_json()).tokens_sequence(tokens)
    assert ids == keras_tokenizer.texts_to_sequences([tokens])[0]
    assert all(token in tokens for token in kept) and len(kept) == len(ids)


def test_dropped_and_oov_words_by_hand():
    without_oov = read_keras_tokenizer(fitted(num_words=3).to_json())
    # word_index by frequency: the=1, cat=2, zebra=3, ...; num_words=3 keeps ids 1 and 2.
    assert without_oov.text_sequence("The quokka cat and a cat") == (
        ["the", "cat", "cat"],
        [1, 2, 2],
    )
    with_oov = read_keras_tokenizer(fitted(num_words=4, oov_token="<OOV>").to_json())
    assert with_oov.text_sequence("The quokka cat a") == (
        ["the", "quokka", "cat", "a"],
        [2, 1, 3, 1],
    )


def test_vocabulary_lists_the_ids_the_tokenizer_gives():
    tokenizer = fitted(oov_token="<OOV>")
    vocabulary = read_keras_tokenizer(tokenizer.to_json()).vocabulary("<pad>")
    assert vocabulary[0] == "<pad>" and vocabulary[1] == "<OOV>"
    assert {word: vocabulary.index(word) for word in vocabulary[1:]} == tokenizer.word_index
    capped = read_keras_tokenizer(fitted(num_words=5).to_json()).vocabulary("<pad>")
    assert len(capped) == 5


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("not json", "not a Keras Tokenizer JSON"),
        ('{"class_name": "Vocab", "config": {"word_index": "{}"}}', "not 'Tokenizer'"),
        ('{"class_name": "Tokenizer", "config": {}}', "not a Keras Tokenizer JSON"),
        (
            '{"class_name": "Tokenizer", "config": {"word_index": "{\\"a\\": 0}"}}',
            "ids from 1 up",
        ),
        (
            '{"class_name": "Tokenizer", "config": {"word_index": "{}", "oov_token": "<u>"}}',
            "oov_token '<u>' is not in its word_index",
        ),
        (
            '{"class_name": "Tokenizer", "config": {"word_index": "{}", "split": ""}}',
            "split must be a non-empty string",
        ),
    ],
)
def test_bad_tokenizer_files_are_model_errors(document, message):
    with pytest.raises(ModelError, match=message):
        read_keras_tokenizer(document)


def test_a_gap_in_word_index_is_refused():
    document = {"class_name": "Tokenizer", "config": {"word_index": json.dumps({"a": 1, "b": 3})}}
    with pytest.raises(ModelError, match=r"no word for ids \[2\]"):
        read_keras_tokenizer(json.dumps(document)).vocabulary("<pad>")
