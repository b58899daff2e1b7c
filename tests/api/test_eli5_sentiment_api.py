"""ELI5's sentiment model brought as a user would: its Keras 2 file, a card, a one-line
labels file and a placeholder vocabulary (IMDB's word index is not shipped), sending ids.

Binary semantics as ELI5's (one sigmoid output): target 0 is the output; relu=false shows
what pulls it down as negative weights; counterfactual=true explains the other class.
The published explanations of ELI5's docs are reproduced through the API.
"""

import shutil
from collections import Counter
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.shared_files import SENTIMENT_H5, eli5_sentiment_published, shared_file

pytestmark = pytest.mark.slow  # LSTMs over 128 steps, traced and taped: about a minute
PUBLISHED = eli5_sentiment_published()
CARD = """
id = "sentiment"
task = "text"
description = "ELI5's IMDB sentiment classifier: the probability that a review is positive"
model_file = "keras_sentiment_classifier.h5"
labels_file = "labels.txt"

[text]
vocab_file = "vocab.txt"
pad_id = 0
pad_token = "<PAD>"
oov_id = 2
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> Iterator[TestClient]:
    source = shared_file(SENTIMENT_H5)
    folder = tmp_path_factory.mktemp("models") / "sentiment"
    folder.mkdir()
    shutil.copy(source, folder / source.name)
    (folder / "model.toml").write_text(CARD)
    (folder / "labels.txt").write_text("positive\n")
    words = [f"word{i}" for i in range(4, 10000)]
    (folder / "vocab.txt").write_text("\n".join(["<PAD>", "<START>", "<OOV>", "<UNUSED>", *words]))
    app = create_app(Settings(models_dir=folder.parent, request_timeout=600, _env_file=None))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def explain(client: TestClient, ids: list[int], **parameters) -> dict:
    body = {"instances": [{"ids": ids}], "parameters": parameters}
    response = client.post("/v1/models/sentiment:explain", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def padded_test_review() -> list[int]:
    review = PUBLISHED["test_review"]
    return [*review["ids"], *[0] * (review["padded_length"] - len(review["ids"]))]


def heatmap(body: dict) -> np.ndarray:
    return np.array(body["explanations"][0]["targets"][0]["heatmap"])


def eli5_lightness(weights: np.ndarray, tokens: list[str]) -> np.ndarray:
    """The lightness ELI5's HTML gives each token: it divides a weight by its token's count."""
    counts = Counter(tokens)
    shown = np.array([w / counts[t] for w, t in zip(weights, tokens, strict=True)])
    return 100 - 40 * (np.abs(shown) / np.abs(shown).max()) ** 0.7


def test_the_model_as_the_service_describes_it(client):
    detail = client.get("/v1/models/sentiment").json()
    assert detail["n_classes"] == 1
    assert detail["labels"] == ["positive"]
    assert detail["default_layer"] == "bidirectional_2"
    names = [layer["name"] for layer in detail["candidate_layers"]]
    assert {"masking_1", "masking_2", "masking_3", "bidirectional_1"} <= set(names)
    assert "bidirectional_3" not in names  # no time axis: (None, 32)


def test_target_0_is_the_output_and_relu_keeps_only_evidence_for_it(client):
    body = explain(client, padded_test_review())
    assert body["predictions"][0][0] == pytest.approx(
        PUBLISHED["test_review"]["prediction"], abs=1e-6
    )
    target = body["explanations"][0]["targets"][0]
    assert (target["target"], target["label"], body["layer"]) == (0, "positive", "bidirectional_2")
    assert target["score"] == pytest.approx(body["predictions"][0][0])
    assert len(body["explanations"][0]["tokens"]) == 68  # the padding is dropped
    # ELI5: "The input seems to have nothing that makes the predicted score go up".
    assert np.all(heatmap(body) == 0) and 'title="' not in target["html"]


def test_relu_false_shows_what_pulls_the_score_down_as_eli5_published(client):
    body = explain(client, padded_test_review(), relu=False)
    weights = heatmap(body)
    assert np.all(weights < 0)
    assert "hsl(0, " in body["explanations"][0]["targets"][0]["html"]  # red
    published = PUBLISHED["test_review"]["lightness_relu_false"]
    tokens = [str(i) for i in padded_test_review()]  # the id stands for its word
    padded = np.concatenate([weights, np.zeros(60)])  # ELI5 kept the pads (~0) in its count
    lightness = eli5_lightness(padded, tokens)[: len(published)]
    np.testing.assert_allclose(lightness, published, atol=0.01)  # two decimals, rounded


@pytest.mark.parametrize("relu", [True, False])
def test_counterfactual_explains_the_other_class(client, relu):
    against = heatmap(explain(client, padded_test_review(), relu=False))
    body = explain(client, padded_test_review(), counterfactual=True, relu=relu)
    np.testing.assert_allclose(heatmap(body), -against, atol=1e-6)
    assert body["explanations"][0]["targets"][0]["target"] == 0  # still the one output
    assert "hsl(120, " in body["explanations"][0]["targets"][0]["html"]  # now green


@pytest.mark.parametrize("name", sorted(PUBLISHED["custom_review"]["explanations"]))
def test_eli5s_published_layers_for_its_custom_review(client, name):
    review = PUBLISHED["custom_review"]
    published = review["explanations"][name]
    parameters = {key: published[key] for key in ("relu", "counterfactual")}
    if published["layer"] is not None:
        parameters["layer"] = published["layer"]
    body = explain(client, review["ids"], **parameters)
    assert body["predictions"][0][0] == pytest.approx(review["prediction"], abs=1e-6)
    weights = heatmap(body)
    hues = [120 if w > 0 else 0 for w in weights]
    assert hues == [hue for hue, _, _ in published["spans"]]
    lightness = eli5_lightness(weights, review["tokens"])
    np.testing.assert_allclose(lightness, [light for _, light, _ in published["spans"]], atol=0.01)


def test_a_second_class_does_not_exist(client):
    body = {"instances": [{"ids": [1, 14, 22]}], "parameters": {"targets": [1]}}
    response = client.post("/v1/models/sentiment:explain", json=body)
    assert response.status_code == 422
    assert "out of range [0, 1)" in response.json()["detail"]


def test_a_layer_without_a_time_axis_is_refused(client):
    # ELI5 stretched bidirectional_3's 32 units over the tokens; the service refuses it.
    body = {"instances": [{"ids": [1, 14, 22]}], "parameters": {"layer": "bidirectional_3"}}
    response = client.post("/v1/models/sentiment:explain", json=body)
    assert response.status_code == 422
    assert "Can not perform Grad-CAM on layer 'bidirectional_3'" in response.json()["detail"]
