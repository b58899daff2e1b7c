"""The pixel-level methods and their options (`samples`, `noise`, `seed`, `steps`,
`baseline`) through the HTTP API; the completeness gap in the answer."""

import numpy as np
import pytest

from tests.api.conftest import b64, decode_data_url

URL = "/v1/models/shapes:explain"
TEXT_URL = "/v1/models/keywords:explain"
PIXEL_METHODS = (
    "saliency",
    "smoothgrad",
    "integrated-gradients",
    "guided-backprop",
    "guided-gradcam",
    "fullgrad",
)
FAST = {"samples": 4, "steps": 8, "seed": 5}  # small and repeatable


def by_json(client, png, **parameters):
    body = {"instances": [{"image": {"b64": b64(png)}}], "parameters": parameters}
    return client.post(URL, json=body)


def as_strings(parameters):
    return {key: str(value) for key, value in parameters.items()}


def only_target(response):
    assert response.status_code == 200, response.text
    return response.json()["explanations"][0]["targets"][0]


@pytest.mark.parametrize("method", PIXEL_METHODS)
def test_pixel_methods_through_the_three_encodings(client, shape_png, method):
    parameters = {"method": method, "targets": 1, **FAST}
    json_target = only_target(by_json(client, shape_png, **{**parameters, "targets": [1]}))
    form = client.post(
        URL, files={"image": ("a.png", shape_png, "image/png")}, data=as_strings(parameters)
    )
    raw = client.post(
        URL, content=shape_png, headers={"content-type": "image/png"}, params=parameters
    )
    assert json_target["heatmap"] == only_target(form)["heatmap"] == only_target(raw)["heatmap"]
    heatmap = np.array(json_target["heatmap"])
    assert heatmap.shape == (64, 64)  # the model input's resolution
    assert heatmap.min() >= 0 and heatmap.max() == pytest.approx(1, abs=1e-5)
    assert decode_data_url(json_target["overlay"]).size == (64, 64)
    has_gap = json_target["completeness_gap"] is not None
    assert has_gap == (method == "integrated-gradients")


def test_integrated_gradients_baselines_and_gap(client, shape_png):
    gaps = {}
    for baseline in ("black", "white", "blur"):
        target = only_target(
            by_json(client, shape_png, method="integrated-gradients", baseline=baseline, steps=16)
        )
        gaps[baseline] = target["completeness_gap"]
        assert np.isfinite(gaps[baseline])
    assert len(set(gaps.values())) == 3  # three different baselines


def test_smoothgrad_seed_repeats_and_varies(client, shape_png):
    def heatmap(seed):
        return only_target(by_json(client, shape_png, method="smoothgrad", samples=4, seed=seed))[
            "heatmap"
        ]

    assert heatmap(1) == heatmap(1)
    assert heatmap(1) != heatmap(2)


def test_text_integrated_gradients_per_token(client):
    instances = [{"tokens": ["sahom", "gerreas", "goal", "vasho"]}, {"text": "storm vasho"}]
    parameters = {"method": "integrated-gradients", "targets": [0, 2], "steps": 8}
    response = client.post(TEXT_URL, json={"instances": instances, "parameters": parameters})
    assert response.status_code == 200, response.text
    target = response.json()["explanations"][0]["targets"][0]
    assert len(target["heatmap"]) == 4 and target["html"]
    assert np.isfinite(target["completeness_gap"])


def test_text_models_list_only_integrated_gradients(client):
    methods = client.get("/v1/models/keywords").json()["methods"]
    assert [m for m in methods if m in PIXEL_METHODS] == ["integrated-gradients"]


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"method": "smoothgrad", "samples": 0}, "samples"),
        ({"method": "smoothgrad", "samples": 65}, "samples"),
        ({"method": "smoothgrad", "noise": -0.1}, "noise"),
        ({"method": "smoothgrad", "seed": -1}, "seed"),
        ({"method": "integrated-gradients", "steps": 1}, "steps"),
        ({"method": "integrated-gradients", "baseline": "grey"}, "baseline"),
        ({"method": "saliency", "counterfactual": True}, "counterfactual"),
        ({"method": "guided-gradcam", "layer": "nope"}, "nope"),
    ],
)
def test_bad_pixel_options_are_422(client, shape_png, parameters, detail):
    response = by_json(client, shape_png, **parameters)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.text


def test_bad_pixel_options_in_a_form_or_query_are_422(client, shape_png):
    form = client.post(
        URL,
        files={"image": ("a.png", shape_png, "image/png")},
        data={"method": "smoothgrad", "samples": "many"},
    )
    assert form.status_code == 422
    raw = client.post(
        URL,
        content=shape_png,
        headers={"content-type": "image/png"},
        params={"method": "integrated-gradients", "steps": "1000"},
    )
    assert raw.status_code == 422


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"method": "saliency"}, "integrated-gradients"),
        ({"method": "integrated-gradients", "baseline": "white"}, "baseline"),
    ],
)
def test_pixel_methods_a_text_model_cannot_use_are_422(client, parameters, detail):
    body = {"instances": [{"text": "goal"}], "parameters": parameters}
    response = client.post(TEXT_URL, json=body)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.text
