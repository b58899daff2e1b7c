"""The bundled `complaints` model against its origin: ELI5's script and tf-keras.

`keras_multiclass_text_classifier.py` (ELI5's tests) defines the preprocessing:
`string_to_tokens` and `tokens_to_vectorized`, below with tf-keras' own
`text_to_word_sequence` and `pad_sequences` (the Keras 2 functions the script imports).
The same `.h5` loaded by tf-keras is the oracle for the predictions.
"""

import csv
import tomllib
from pathlib import Path

import numpy as np
import pytest
import tf_keras
from tf_keras.preprocessing.sequence import pad_sequences
from tf_keras.preprocessing.text import text_to_word_sequence

from app.errors import InvalidInput
from app.explain.options import ExplainOptions, TextInput
from app.explain.texts import explain_texts, prepare_texts
from app.registry.card import read_card
from app.registry.files import file_sha256
from app.registry.registry import load_served_model

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
FOLDER = MODELS_DIR / "complaints"
H5 = FOLDER / "keras_multiclass_text_classifier.h5"
MAXLEN = 3193
EXAMPLE = Path(__file__).resolve().parent.parent / "docs" / "examples" / "complaint_mortgage.txt"

PARAGRAPH = (
    "A debt collector keeps calling me at work about a medical bill I already paid. "
    "I sent them the receipt twice; they still report it to the credit bureaus. "
)
TEXTS = [
    "My mortgage servicer refused to fix the escrow account.",
    'They said I owe "$1,250.00" (plus fees!!) -- call 1-800-555-0199 or write to a@b.com.',
    "Caf\u00e9 na\u00efve \u201csmart quotes\u201d \u20ac100 \u00bd"
    "\tTab\r\nCRLF\u00a0nbsp \u00e2\u0080",
    "I was charged an overdraft fee on my checking account after the bank held my deposit.",
    PARAGRAPH * 40,  # about 6,200 characters: cut to the first 3,193 after filtering
]


def script_word_index() -> dict[str, int]:
    """word_index.csv as the script's `pd.read_csv(WORD_INDEX, index_col=0)` reads it."""
    with (FOLDER / "word_index.csv").open(encoding="utf-8", newline="") as handle:
        return {row[0]: int(row[1]) for row in list(csv.reader(handle))[1:]}


def script_vectorized(text: str) -> np.ndarray:
    """string_to_tokens then tokens_to_vectorized, as in the script."""
    word_index = script_word_index()
    tokens = list(" ".join(text_to_word_sequence(text, lower=False)))
    doc = [[word_index.get(token, word_index["<OOV>"]) for token in tokens]]
    return pad_sequences(
        doc, padding="post", truncating="post", value=word_index["<PAD>"], maxlen=MAXLEN
    )


@pytest.fixture(scope="module")
def served():
    return load_served_model(MODELS_DIR, read_card(FOLDER), None)


@pytest.fixture(scope="module")
def oracle():
    return tf_keras.models.load_model(H5, compile=False)


@pytest.mark.parametrize("text", TEXTS, ids=["short", "punctuation", "unknown", "plain", "long"])
def test_model_input_equals_the_scripts_preprocessing(served, text):
    prepared = prepare_texts(served, [TextInput(text=text)], ExplainOptions())
    np.testing.assert_array_equal(prepared.inputs, script_vectorized(text))


def test_a_text_without_words_is_refused(served):
    with pytest.raises(InvalidInput, match="no tokens"):
        prepare_texts(served, [TextInput(text=" ... !? ")], ExplainOptions())


def test_the_long_text_is_longer_than_the_model_takes():
    assert len(" ".join(text_to_word_sequence(TEXTS[4], lower=False))) > 4096 > MAXLEN


def test_predictions_equal_tf_keras_on_the_same_file(served, oracle):
    result = explain_texts(served, [TextInput(text=text) for text in TEXTS], ExplainOptions())
    expected = oracle.predict(np.concatenate([script_vectorized(t) for t in TEXTS]), verbose=0)
    np.testing.assert_allclose(result.predictions, expected, rtol=1e-5, atol=1e-6)
    assert len(set(np.argmax(expected, axis=1).tolist())) > 1  # not one class for every text


def test_labels_are_labels_index_csv_in_id_order(served):
    with (FOLDER / "labels_index.csv").open(encoding="utf-8", newline="") as handle:
        rows = sorted(list(csv.reader(handle))[1:], key=lambda row: int(row[1]))
    assert served.labels == tuple(row[0] for row in rows)
    assert len(served.labels) == 11 and served.labels[2] == "Mortgage"


def test_vocabulary_is_word_index_csv(served):
    word_index = script_word_index()
    assert len(served.text_spec.vocab) == len(word_index) == 102
    assert all(served.text_spec.vocab[index] == token for token, index in word_index.items())


def test_files_match_the_card_and_the_shared_originals():
    card = tomllib.loads((FOLDER / "model.toml").read_text(encoding="utf-8"))
    for name, digest in card["sha256"].items():
        assert file_sha256(FOLDER / name) == digest
    assert (FOLDER / "LICENSE.txt").read_text().startswith("Copyright (c) eli5 developers.")


def test_the_example_complaint_is_predicted_mortgage(served, oracle):
    text = EXAMPLE.read_text(encoding="utf-8")
    expected = oracle.predict(script_vectorized(text), verbose=0)[0]
    assert served.labels[int(np.argmax(expected))] == "Mortgage"


def test_the_cards_example_is_the_docs_example(served):
    assert served.card.text.example == EXAMPLE.read_text(encoding="utf-8")
