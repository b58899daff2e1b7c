"""The `complaints` model through the API: a mortgage complaint, highlighted on its text."""

import re
from pathlib import Path

import numpy as np
import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "complaint_mortgage.txt"
MORTGAGE_WORDS = {
    "mortgage", "escrow", "servicer", "loan", "modification", "foreclosure",
    "property", "payment", "payments", "insurance", "taxes", "homeowners",
}  # fmt: skip


@pytest.fixture(scope="module")
def example() -> str:
    return EXAMPLE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def explained(client, example) -> dict:
    response = client.post("/v1/models/complaints:explain", json={"instances": [{"text": example}]})
    assert response.status_code == 200, response.text
    return response.json()


def char_weights(document: str, spans: list) -> np.ndarray:
    weights = np.zeros(len(document))
    for _token, ranges, weight in spans:
        for start, end in ranges:
            weights[start:end] = weight
    return weights


def test_the_mortgage_complaint_is_predicted_mortgage(explained):
    target = explained["explanations"][0]["targets"][0]
    assert target["label"] == "Mortgage" and target["score"] > 0.9
    assert explained["layer"] == "conv1d_1"  # the card's default_layer


def test_spans_are_drawn_on_the_text_as_sent(explained, example):
    target = explained["explanations"][0]["targets"][0]
    document, spans = target["weighted_spans"]["document"], target["weighted_spans"]["spans"]
    assert document == example  # punctuation and line breaks kept
    assert [token for token, _, _ in spans] == explained["explanations"][0]["tokens"]
    for token, [(start, end)], _ in spans:
        if token == " ":  # a joining space stands for the gap between two words
            assert start < end and not re.search(r"\w", document[start:end])
        else:
            assert document[start:end] == token
    assert "$412" in document and "$" not in explained["explanations"][0]["tokens"]


def test_the_strongest_words_are_mortgage_words(explained, example):
    target = explained["explanations"][0]["targets"][0]
    weights = char_weights(example, target["weighted_spans"]["spans"])
    words = [
        (m.group().lower(), weights[m.start() : m.end()].mean())
        for m in re.finditer(r"[A-Za-z]+", example)
    ]
    strongest = [word for word, _ in sorted(words, key=lambda item: -item[1])[:10]]
    assert {"loan", "foreclosure", "modification"} & set(strongest), strongest
    # The top tenth of the characters falls on mortgage words far more often than chance.
    on_vocabulary = np.zeros(len(example), dtype=bool)
    for match in re.finditer(r"[A-Za-z]+", example):
        on_vocabulary[match.start() : match.end()] = match.group().lower() in MORTGAGE_WORDS
    top = np.argsort(-weights)[: len(example) // 10]
    assert on_vocabulary[top].mean() > 1.5 * on_vocabulary.mean()


def test_a_text_longer_than_the_model_takes_is_cut_not_refused(client):
    text = "My escrow account is wrong. " * 150  # 4,200 characters
    response = client.post("/v1/models/complaints:explain", json={"instances": [{"text": text}]})
    assert response.status_code == 200, response.text
    explanation = response.json()["explanations"][0]
    assert len(explanation["tokens"]) == 3193
    spans = explanation["targets"][0]["weighted_spans"]["spans"]
    last_end = spans[-1][1][0][1]
    assert 3193 < last_end < len(text)  # the filtered dots make the cut fall later in the text
