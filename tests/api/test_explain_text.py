"""POST /v1/models/keywords:explain: text, tokens and ids, padding, spans and HTML."""

import numpy as np
import pytest

from tests.api.conftest import MODELS_DIR

URL = "/v1/models/keywords:explain"
FILLERS = ["sahom", "stiodeadem", "gerreas", "cussamam", "vasho", "vutgot"]
SENTENCE = ["sahom", "gerreas", "goal", "vasho", "vutgot"]  # sports keyword at index 2


def explain(client, instances, **parameters):
    return client.post(URL, json={"instances": instances, "parameters": parameters})


def vocabulary_ids(tokens):
    vocab = (MODELS_DIR / "keywords" / "vocab.txt").read_text(encoding="utf-8").splitlines()
    return [vocab.index(token) for token in tokens]


def only_target(body, instance=0):
    return body["explanations"][instance]["targets"][0]


def test_free_text_is_tokenized_and_padding_removed(client):
    response = explain(client, [{"text": "Sahom gerreas GOAL vasho vutgot"}])
    assert response.status_code == 200, response.text
    body = response.json()
    explanation = body["explanations"][0]
    assert explanation["tokens"] == SENTENCE
    target = explanation["targets"][0]
    assert target["label"] == "sports"
    assert len(target["heatmap"]) == 5
    assert int(np.argmax(target["heatmap"])) == 2


def test_tokens_and_tokens_with_ids_agree(client):
    by_tokens = explain(client, [{"tokens": SENTENCE}]).json()
    by_ids = explain(client, [{"tokens": SENTENCE, "doc": vocabulary_ids(SENTENCE)}]).json()
    assert only_target(by_tokens)["heatmap"] == only_target(by_ids)["heatmap"]
    assert by_tokens["predictions"] == by_ids["predictions"]


@pytest.mark.parametrize("padding", ["post", "pre"])
def test_both_padding_sides_point_at_the_keyword(client, padding):
    body = explain(client, [{"tokens": SENTENCE}], padding=padding).json()
    target = only_target(body)
    assert body["explanations"][0]["tokens"] == SENTENCE
    assert int(np.argmax(target["heatmap"])) == 2


def test_several_instances_and_targets(client):
    weather = ["vasho", "storm", "sahom"]
    body = explain(client, [{"tokens": SENTENCE}, {"tokens": weather}], targets=[0, 2]).json()
    assert len(body["predictions"]) == 2
    assert [t["label"] for t in body["explanations"][1]["targets"]] == ["sports", "weather"]
    weather_map = body["explanations"][1]["targets"][1]["heatmap"]
    assert int(np.argmax(weather_map)) == 1


def test_weighted_spans_and_html(client):
    body = explain(client, [{"tokens": ["sahom", "goal", "<b>&"]}]).json()
    target = only_target(body)
    spans = target["weighted_spans"]
    assert spans["document"] == "sahom goal <b>&"
    assert [span[0] for span in spans["spans"]] == ["sahom", "goal", "<b>&"]
    assert [span[1] for span in spans["spans"]] == [[[0, 5]], [[6, 10]], [[11, 15]]]
    assert [span[2] for span in spans["spans"]] == pytest.approx(target["heatmap"])
    assert "&lt;b&gt;&amp;" in target["html"] and "<b>" not in target["html"]
    assert "hsl(120, 100.00%" in target["html"]  # the keyword is highlighted green


def test_explicit_pad_value_and_interpolation_kind(client):
    tokens = [*SENTENCE, "<pad>", "<pad>"]
    ids = [*vocabulary_ids(SENTENCE), 0, 0]
    body = explain(
        client, [{"tokens": tokens, "doc": ids}], pad_value="<pad>", interpolation_kind="nearest"
    ).json()
    assert body["explanations"][0]["tokens"] == SENTENCE


def test_relu_off_and_counterfactual(client):
    body = explain(client, [{"tokens": SENTENCE}], targets=[1], relu=False).json()
    heatmap = np.array(only_target(body)["heatmap"])
    flipped = explain(
        client, [{"tokens": SENTENCE}], targets=[1], relu=False, counterfactual=True
    ).json()
    np.testing.assert_allclose(np.array(only_target(flipped)["heatmap"]), -heatmap, atol=1e-6)


def test_multipart_text_field(client):
    fields = {"text": (None, "sahom goal vasho"), "targets": (None, "0")}
    response = client.post(URL, files=fields)  # multipart/form-data without a file
    assert response.status_code == 200, response.text
    assert response.json()["explanations"][0]["tokens"] == ["sahom", "goal", "vasho"]


@pytest.mark.parametrize(
    ("instance", "message"),
    [
        ({"tokens": ["a", "b"], "doc": [3]}, "tokens has 2 entries but doc has 1"),
        ({"tokens": ["a"], "doc": [99999]}, "token ids must be in"),
        ({"tokens": []}, "no tokens"),
        ({"text": "   "}, "no tokens"),
        ({"text": " ".join(["sahom"] * 49)}, "49 tokens; model takes at most 48"),
    ],
)
def test_bad_text_instances(client, instance, message):
    response = explain(client, [instance])
    assert response.status_code == 422
    assert message in response.json()["detail"]


def test_text_sent_to_an_image_model_is_refused(client):
    response = client.post("/v1/models/shapes:explain", json={"instances": [{"text": "goal"}]})
    assert response.status_code == 422
    assert "explains image inputs" in response.json()["detail"]


def test_image_sent_to_a_text_model_is_refused(client, shape_png):
    response = client.post(URL, content=shape_png, headers={"content-type": "image/png"})
    assert response.status_code == 422
    assert "explains text inputs" in response.json()["detail"]
