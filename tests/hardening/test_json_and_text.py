"""JSON and text: strict numbers, no unknown fields, bounded nesting, tokens and ids."""

import json
import time

import pytest

from tests.hardening.conftest import KEYWORDS, TINY, assert_problem

JSON = {"content-type": "application/json"}


def post_raw(client, url: str, body: bytes):
    return client.post(url, content=body, headers=JSON)


def texts(*instances: dict, **parameters) -> dict:
    return {"instances": list(instances), "parameters": parameters}


# --- numbers and fields -----------------------------------------------------


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_numbers_are_422(client, literal):
    body = b'{"instances": [{"text": "goal"}], "parameters": {"alpha_limit": ' + literal + b"}}"
    assert_problem(post_raw(client, KEYWORDS, body), 422)


BAD_VALUES = {
    "boolean target": {"targets": [True]},
    "float target": {"targets": [1.0]},
    "string target": {"targets": ["1"]},
    "boolean alpha": {"alpha_limit": True},
    "boolean layer": {"layer": False},
    "boolean pad value": {"pad_value": True},
    "number for relu": {"relu": 1},
    "string for overlay": {"overlay": "yes"},
    "huge target": {"targets": [10**30]},
    "huge layer index": {"layer": 10**30},
    "negative target": {"targets": [-1]},
    "65 targets": {"targets": [0] * 65},
}


@pytest.mark.parametrize("parameters", BAD_VALUES.values(), ids=BAD_VALUES.keys())
def test_wrong_types_and_ranges_are_422(client, parameters):
    assert_problem(client.post(KEYWORDS, json=texts({"text": "goal"}, **parameters)), 422)


UNKNOWN_FIELDS = {
    "top level": {"instances": [{"text": "goal"}], "model": "x"},
    "instance": {"instances": [{"text": "goal", "lang": "en"}]},
    "parameters": {"instances": [{"text": "goal"}], "parameters": {"colour": "red"}},
    "image": {"instances": [{"image": {"b64": "AAAA", "url": "http://example.com/a.png"}}]},
}


@pytest.mark.parametrize("body", UNKNOWN_FIELDS.values(), ids=UNKNOWN_FIELDS.keys())
def test_unknown_fields_are_422(client, body):
    problem = assert_problem(client.post(KEYWORDS, json=body), 422)
    assert "Extra inputs are not permitted" in problem["detail"]


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"text"', b"null", b"42", b"{", b'{"instances": [{"text": "\xff"}]}', b""],
    ids=["array", "string", "null", "number", "truncated", "invalid utf-8", "empty"],
)
def test_bodies_that_are_not_a_request_object_are_422(client, body):
    assert_problem(post_raw(client, KEYWORDS, body), 422)


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000 + b"]" * 100_000,
        b'{"instances": [{"text": ' + b"[" * 100_000 + b"]" * 100_000 + b"}]}",
        b'{"parameters": ' + b'{"a": ' * 50_000 + b"1" + b"}" * 50_000 + b"}",
        b"[" * 500_000,
    ],
    ids=["arrays", "inside a field", "objects", "unclosed"],
)
def test_deeply_nested_json_is_a_quick_422(client, body):
    started = time.perf_counter()
    problem = assert_problem(post_raw(client, KEYWORDS, body), 422)
    assert time.perf_counter() - started < 2.0
    assert "recursion limit" in problem["detail"]


# --- text limits ------------------------------------------------------------


def test_more_than_4096_words_are_refused_before_tokenizing(client, monkeypatch):
    import app.preprocess.text as text

    def no_tokenizing(*args, **kwargs):
        raise AssertionError("tokenized")

    monkeypatch.setattr(text.TextSpec, "token_index", property(no_tokenizing))
    huge = "goal " * 200_000  # ~1 MB of words, under the JSON limit
    problem = assert_problem(client.post(KEYWORDS, json=texts({"text": huge})), 422)
    assert "more than 4096 tokens" in problem["detail"]


@pytest.mark.parametrize(
    ("count", "message"),
    [(4097, "more than 4096 tokens"), (4096, "model takes at most 48")],
)
def test_the_token_cap_is_4096_for_texts_tokens_and_ids(client, count, message):
    instances = [
        {"text": " ".join(["goal"] * count)},
        {"tokens": ["goal"] * count},
        {"tokens": ["goal"] * count, "doc": [2] * count},
        {"ids": [2] * count},
    ]
    for instance in instances:
        problem = assert_problem(client.post(KEYWORDS, json=texts(instance)), 422)
        assert message in problem["detail"], instance.keys()


def test_the_token_cap_holds_for_multipart_text_and_ids(client):
    for field in ({"text": (None, "goal " * 4097)}, {"ids": (None, ",".join(["2"] * 4097))}):
        response = client.post(KEYWORDS, files=field)
        assert "more than 4096 tokens" in assert_problem(response, 422)["detail"]


def test_the_token_cap_is_a_setting(make_app):
    from fastapi.testclient import TestClient

    with TestClient(make_app(max_tokens=3)) as strict:
        refused = strict.post(KEYWORDS, json=texts({"text": "a b c d"}))
        assert "more than 3 tokens" in assert_problem(refused, 422)["detail"]
        assert strict.post(KEYWORDS, json=texts({"text": "a b c"})).status_code == 200


def test_at_most_64_instances(client):
    assert client.post(KEYWORDS, json=texts(*[{"text": "goal"}] * 64)).status_code == 200
    problem = assert_problem(client.post(KEYWORDS, json=texts(*[{"text": "goal"}] * 65)), 422)
    assert "at most 64" in problem["detail"]


@pytest.mark.parametrize("ids", [[100_000], [-1], [2**63]], ids=["past the end", "neg", "huge"])
def test_ids_outside_the_vocabulary_are_422(client, ids):
    for body in (texts({"tokens": ["x"], "doc": ids}), texts({"ids": ids})):
        problem = assert_problem(client.post(KEYWORDS, json=body), 422)
        assert "token ids must be in" in problem["detail"]


def test_tokens_and_ids_of_different_lengths_are_422(client):
    body = texts({"tokens": ["a", "b"], "doc": [2]})
    assert_problem(client.post(KEYWORDS, json=body), 422)


@pytest.mark.parametrize("text", ["", "   \n\t ", "\u2003"], ids=["empty", "spaces", "em space"])
def test_texts_without_tokens_are_422(client, text):
    assert_problem(client.post(KEYWORDS, json=texts({"text": text})), 422)


def test_images_and_texts_do_not_mix(client, tiny_png):
    import base64

    body = texts({"text": "goal"}, {"image": {"b64": base64.b64encode(tiny_png).decode()}})
    assert_problem(client.post(KEYWORDS, json=body), 422)


@pytest.mark.parametrize(
    "value",
    ["²", "9" * 5000, "-", "1e3", "0x10"],
    ids=["superscript", "5000 digits", "minus", "exp", "hex"],
)
def test_odd_layer_strings_in_query_or_form_are_4xx(client, tiny_png, value):
    raw = client.post(
        TINY, content=tiny_png, headers={"content-type": "image/png"}, params={"layer": value}
    )
    assert_problem(raw, 422)
    form = client.post(TINY, files={"image": ("a.png", tiny_png)}, data={"layer": value})
    assert_problem(form, 422)


@pytest.mark.parametrize(
    "value", ["9" * 5000, "1,,2", "²", "1.5"], ids=["digits", "gap", "superscript", "float"]
)
def test_odd_target_strings_are_422(client, tiny_png, value):
    response = client.post(TINY, files={"image": ("a.png", tiny_png)}, data={"targets": value})
    assert_problem(response, 422)


def test_a_valid_request_still_works(client):
    response = client.post(KEYWORDS, json=texts({"text": "goal storm"}, targets=[0, 2]))
    assert response.status_code == 200, response.text
    assert json.loads(response.text)["model_id"] == "keywords"
