"""KServe V1 tensor instances on `:explain`: nested lists (H x W x C, the model's input
after the card's scaling), bare or under the model's input name; their 422s."""

import numpy as np
import pytest

from tests.api.conftest import b64, decode_data_url, encode

URL = "/v1/models/shapes:explain"
SHAPES_KEY = "pixels"  # the bundled shapes model's input name (its /metadata says so)


def explain(client, instance, **parameters):
    return client.post(URL, json={"instances": [instance], "parameters": parameters})


def target(response):
    assert response.status_code == 200, response.text
    return response.json()["explanations"][0]["targets"][0]


@pytest.fixture(scope="module")
def image(shape_images):
    picture = shape_images[0][1]
    return picture, np.asarray(picture, np.float32)


@pytest.mark.parametrize("method", ["gradcam", "occlusion"])
def test_a_tensor_explains_as_its_image(client, image, method):
    picture, pixels = image
    tensor = (pixels / np.float32(255.0)).tolist()  # the card's scaling: unit
    options = {"method": method, "targets": [2], "occlusion_window": 16}
    expected = target(explain(client, {"b64": b64(encode(picture))}, **options))
    for instance in (tensor, {SHAPES_KEY: tensor}):
        got = target(explain(client, instance, **options))
        assert got["score"] == pytest.approx(expected["score"], abs=1e-6)
        np.testing.assert_allclose(got["heatmap"], expected["heatmap"], atol=1e-5)
        # The overlay is drawn on the tensor's pixels
        overlay = np.asarray(decode_data_url(got["overlay"]).convert("RGB"), np.float32)
        assert overlay.shape == (64, 64, 3)


def test_its_metadata_names_the_input_a_tensor_uses(client):
    signature = client.get("/v1/models/shapes/metadata").json()["metadata"]
    inputs = signature["signature_def"]["signature_def"]["serving_default"]["inputs"]
    assert list(inputs) == [SHAPES_KEY]
    assert [d["size"] for d in inputs[SHAPES_KEY]["tensor_shape"]["dim"]] == ["-1", "64", "64", "3"]


def test_a_tensor_of_another_shape_is_a_422_naming_both(client):
    response = explain(client, np.zeros((32, 32, 3)).tolist())
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    detail = response.json()["detail"]
    assert "[32, 32, 3]" in detail and "[64, 64, 3]" in detail


@pytest.mark.parametrize(
    ("instance", "said"),
    [
        ({"image": np.zeros((64, 64, 3)).tolist()}, "names the input 'image'"),
        (np.full((64, 64, 3), 255.0).tolist(), "takes 0..1"),  # unscaled pixels
        ([[[0.5, "a", 0.5]]], "not all numbers"),
        ([[[0.5, 0.5, 0.5]], [[0.5]]], "not all of one length"),
    ],
)
def test_bad_tensors_are_422(client, instance, said):
    response = explain(client, instance)
    assert response.status_code == 422, response.text
    assert said in response.json()["detail"]
