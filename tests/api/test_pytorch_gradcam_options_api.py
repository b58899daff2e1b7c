"""pytorch-grad-cam's options and methods through the HTTP API: one request per option,
the three encodings agreeing, the engine's maps answered, and bad values refused.

(The maps themselves are compared with pytorch-grad-cam in
tests/engine/methods/test_pytorch_gradcam_methods.py.)"""

import numpy as np
import pytest

from app.engine.methods.options import CamOptions
from app.explain.images import prepare_images
from app.preprocess.image import ImageLimits
from tests.api.test_methods_api import by_form, by_json, by_raw, only_target

TEXT_URL = "/v1/models/keywords:explain"
# (JSON parameters, the same as form / query strings, the map's shape)
OPTIONS = {
    "eigen_smooth": ({"eigen_smooth": True}, {"eigen_smooth": "true"}, (16, 16)),
    "aug_smooth": ({"aug_smooth": True}, {"aug_smooth": "true"}, (64, 64)),
    "layers": ({"layer": ["conv3", "last_conv"]}, {"layer": "conv3,last_conv"}, (64, 64)),
    "kpcacam": (
        {"method": "kpcacam", "kpca_kernel": "rbf", "kpca_gamma": 0.1},
        {"method": "kpcacam", "kpca_kernel": "rbf", "kpca_gamma": "0.1"},
        (16, 16),
    ),
    "fem": ({"method": "fem", "fem_k": 1.5}, {"method": "fem", "fem_k": "1.5"}, (16, 16)),
    "shapleycam": ({"method": "shapleycam"}, {"method": "shapleycam"}, (16, 16)),
    "finercam": (
        {"method": "finercam", "finer_alpha": 0.5, "finer_comparison": [1, 2]},
        {"method": "finercam", "finer_alpha": "0.5", "finer_comparison": "1,2"},
        (16, 16),
    ),
    "scorecam_both": (
        {"method": "scorecam", "max_channels": 4, "eigen_smooth": True, "aug_smooth": True},
        {"method": "scorecam", "max_channels": "4", "eigen_smooth": "1", "aug_smooth": "1"},
        (64, 64),
    ),
}


@pytest.mark.parametrize("option", OPTIONS)
def test_each_option_through_the_three_encodings(client, shape_png, option):
    json_parameters, strings, shape = OPTIONS[option]
    response = by_json(client, shape_png, **json_parameters)
    heatmap = only_target(response)["heatmap"]
    assert only_target(by_form(client, shape_png, **strings))["heatmap"] == heatmap
    assert only_target(by_raw(client, shape_png, **strings))["heatmap"] == heatmap
    values = np.array(heatmap)
    assert values.shape == shape and values.min() >= 0 and values.max() <= 1
    assert values.max() > 0
    layers = json_parameters.get("layer", ["last_conv"])
    assert response.json()["layer"] == ",".join(layers)


def test_the_answer_is_the_engine_map(client, shape_png):
    """aug_smooth on two layers with eigen_smooth: what the engine gives for those options."""
    parameters = {"layer": ["conv3", "last_conv"], "aug_smooth": True, "eigen_smooth": True}
    answered = np.array(only_target(by_json(client, shape_png, **parameters))["heatmap"])
    served = client.app.state.registry.get("shapes")
    inputs = prepare_images(served, [shape_png], ImageLimits()).inputs
    options = CamOptions(eigen_smooth=True, aug_smooth=True)
    cams = served.gradcam(["conv3", "last_conv"], "gradcam", options).explain(inputs)
    np.testing.assert_allclose(answered, cams.heatmaps[0], atol=1e-6)


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"method": "kpcacam", "kpca_gamma": 0}, "kpca_gamma"),
        ({"method": "kpcacam", "kpca_kernel": "laplacian"}, "kpca_kernel"),
        ({"method": "kpcacam", "layer": "conv1"}, "at most 1024"),
        ({"fem_k": 1.0}, "option of method fem"),
        ({"method": "gradcam", "finer_alpha": 0.5}, "option of method finercam"),
        ({"method": "finercam", "finer_comparison": [0]}, "finer_comparison"),
        ({"method": "finercam", "aug_smooth": True}, "not defined for finercam"),
        ({"method": "eigencam", "eigen_smooth": True}, "eigen_smooth"),
        ({"method": "fem", "eigen_smooth": True}, "eigen_smooth"),
        ({"layer": []}, "layer"),
        ({"layer": ["last_conv", "nope"]}, "nope"),
    ],
)
def test_bad_options_are_422(client, shape_png, parameters, detail):
    response = by_json(client, shape_png, **parameters)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.text


def test_bad_options_in_a_form_or_query_are_422(client, shape_png):
    assert by_form(client, shape_png, method="finercam", finer_comparison="1,x").status_code == 422
    assert by_raw(client, shape_png, method="kpcacam", kpca_gamma="-1").status_code == 422
    assert by_raw(client, shape_png, aug_smooth="maybe").status_code == 422


@pytest.mark.parametrize("option", ["aug_smooth", "layer"])
def test_input_resolution_options_on_a_text_model_are_422(client, option):
    layers = [
        layer["name"] for layer in client.get("/v1/models/keywords").json()["candidate_layers"]
    ]
    parameters = {"aug_smooth": True} if option == "aug_smooth" else {"layer": layers[-2:]}
    body = {"instances": [{"text": "storm goal"}], "parameters": parameters}
    response = client.post(TEXT_URL, json=body)
    assert response.status_code == 422, response.text
    assert "image model" in response.json()["detail"]
