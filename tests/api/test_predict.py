"""POST /v1/models/{id}[/versions/{v}]:predict with TF Serving's REST bodies: the same
numbers as the model's own forward pass, in TF Serving's answer shapes."""

import re

import keras
import numpy as np
import pytest

from tests.api.conftest import MODELS_DIR, b64, encode

TOLERANCE = 1e-5  # float32 outputs of one compiled forward vs Keras' own call


@pytest.fixture(scope="module")
def shapes_model() -> keras.Model:
    return keras.saving.load_model(MODELS_DIR / "shapes" / "model.keras", compile=False)


@pytest.fixture(scope="module")
def keywords_model() -> keras.Model:
    return keras.saving.load_model(MODELS_DIR / "keywords" / "model.keras", compile=False)


@pytest.fixture(scope="module")
def shape_tensors(shape_images) -> np.ndarray:
    images, _ = shape_images
    return np.stack([np.asarray(image, np.float32) / 255.0 for image in images[:3]])


def expected(model: keras.Model, inputs: np.ndarray) -> np.ndarray:
    return np.asarray(model(inputs, training=False))


def test_row_format_gives_the_models_own_outputs(client, shapes_model, shape_tensors):
    response = client.post("/v1/models/shapes:predict", json={"instances": shape_tensors.tolist()})
    assert response.status_code == 200, response.text[:300]
    body = response.json()
    assert set(body) == {"predictions", "model_version"} and body["model_version"] == "1"
    assert response.headers["x-model-version"] == "1"
    predictions = np.asarray(body["predictions"])
    assert predictions.shape == (3, 4)
    np.testing.assert_allclose(predictions, expected(shapes_model, shape_tensors), atol=TOLERANCE)


def test_columnar_and_named_inputs_give_the_same_numbers(client, shape_tensors):
    rows = client.post("/v1/models/shapes:predict", json={"instances": shape_tensors.tolist()})
    columnar = client.post(
        "/v1/models/shapes:predict",
        json={"signature_name": "serving_default", "inputs": {"pixels": shape_tensors.tolist()}},
    )
    named = client.post(
        "/v1/models/shapes:predict",
        json={"instances": [{"pixels": tensor} for tensor in shape_tensors.tolist()]},
    )
    assert set(columnar.json()) == {"outputs", "model_version"}
    np.testing.assert_allclose(columnar.json()["outputs"], rows.json()["predictions"], atol=0)
    np.testing.assert_allclose(named.json()["predictions"], rows.json()["predictions"], atol=0)


def test_b64_images_go_through_the_cards_preprocessing(client, shape_images):
    png = encode(shape_images[0][1])
    predicted = client.post("/v1/models/shapes:predict", json={"instances": [{"b64": b64(png)}]})
    explained = client.post(
        "/v1/models/shapes/versions/1:explain",
        json={"instances": [{"image": {"b64": b64(png)}}], "parameters": {"overlay": False}},
    )
    assert explained.status_code == 200, explained.text[:300]
    np.testing.assert_allclose(
        predicted.json()["predictions"], explained.json()["predictions"], atol=TOLERANCE
    )


def test_text_model_takes_token_ids(client, keywords_model):
    ids = np.zeros((2, 48), np.int32)
    ids[0, :3] = [5, 9, 2]
    ids[1, :2] = [7, 3]
    body = {"instances": ids.tolist()}
    response = client.post("/v1/models/keywords/versions/1:predict", json=body)
    assert response.status_code == 200, response.text[:300]
    np.testing.assert_allclose(
        response.json()["predictions"], expected(keywords_model, ids), atol=TOLERANCE
    )


@pytest.mark.parametrize(
    ("model", "body", "detail"),
    [
        ("shapes", {"instances": [[[0.0]]]}, "has shape \\[64, 64, 3\\], not \\[1, 1\\]"),
        ("shapes", {"instances": [1, [2]]}, "not tensors of one shape"),
        ("shapes", {"instances": [["a"]]}, "takes numbers"),
        ("shapes", {"instances": [], "inputs": []}, "exactly one of instances or inputs"),
        ("shapes", {"instances": []}, "non-empty list"),
        ("shapes", {"instances": [[0]], "signature_name": "other"}, "no signature 'other'"),
        ("shapes", {"instances": [{"image": [0]}]}, "takes 'pixels'"),
        ("shapes", {"instances": [{"b64": "!!"}]}, "not valid base64"),
        ("shapes", {"instances": [{"b64": b64(b"not an image")}, [0.0]]}, "not both"),
        ("shapes", {"instances": [[0]], "parameters": {}}, "unknown fields"),
        ("shapes", [1, 2], "a JSON object"),
        ("keywords", {"instances": [[0.5] * 48]}, "takes integers"),
        ("keywords", {"instances": [[10**6] * 48]}, "token ids of model keywords are"),
        ("keywords", {"instances": [{"b64": "AAAA"}]}, "not b64 images"),
    ],
)
def test_bad_bodies_are_400_problems(client, model, body, detail):
    response = client.post(f"/v1/models/{model}:predict", json=body)
    assert response.status_code == 400, response.text[:300]
    assert response.headers["content-type"] == "application/problem+json"
    assert re.search(detail, response.json()["detail"])


def test_not_json_is_a_400_problem(client):
    response = client.post("/v1/models/shapes:predict", content=b"{nope")
    assert response.status_code == 400
    assert "not JSON" in response.json()["detail"]


def test_unknown_model_and_version_are_404(client):
    assert client.post("/v1/models/nope:predict", json={"instances": [[0]]}).status_code == 404
    response = client.post("/v1/models/shapes/versions/9:predict", json={"instances": [[0]]})
    assert response.status_code == 404
    assert "no version '9' loaded (loaded: 1)" in response.json()["detail"]
