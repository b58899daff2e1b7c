"""`method`, `max_channels`, `metrics` and `metric_steps` through the HTTP API."""

import typing

import numpy as np
import pytest

from app.api import schemas
from app.engine.evaluation.faithfulness import METRIC_NAMES
from app.engine.methods import (
    ATTENTION_METHODS,
    BLACKBOX_METHODS,
    CAM_METHOD_NAMES,
    METHOD_NAMES,
    PIXEL_METHODS,
)
from tests.api.conftest import b64, decode_data_url

URL = "/v1/models/shapes:explain"
TEXT_URL = "/v1/models/keywords:explain"


def by_json(client, png, **parameters):
    body = {"instances": [{"image": {"b64": b64(png)}}], "parameters": parameters}
    return client.post(URL, json=body)


def by_form(client, png, **fields):
    return client.post(URL, files={"image": ("a.png", png, "image/png")}, data=fields)


def by_raw(client, png, **query):
    return client.post(URL, content=png, headers={"content-type": "image/png"}, params=query)


def only_target(response):
    assert response.status_code == 200, response.text
    return response.json()["explanations"][0]["targets"][0]


def test_schema_names_are_the_engine_tables():
    assert typing.get_args(schemas.MethodName) == METHOD_NAMES
    assert typing.get_args(schemas.MetricName) == METRIC_NAMES


@pytest.mark.parametrize("method", CAM_METHOD_NAMES)
def test_every_method_through_the_three_encodings(client, shape_png, method):
    json_response = by_json(client, shape_png, method=method, targets=[1], max_channels=8)
    assert json_response.json()["method"] == method
    maps = [
        only_target(json_response)["heatmap"],
        only_target(by_form(client, shape_png, method=method, targets="1", max_channels="8")),
        only_target(by_raw(client, shape_png, method=method, targets="1", max_channels="8")),
    ]
    maps[1], maps[2] = maps[1]["heatmap"], maps[2]["heatmap"]
    assert maps[0] == maps[1] == maps[2]
    heatmap = np.array(maps[0])
    assert heatmap.shape == (16, 16) and heatmap.min() >= 0 and heatmap.max() <= 1
    overlay = only_target(json_response)["overlay"]
    assert decode_data_url(overlay).size == (64, 64)


@pytest.mark.parametrize("method", CAM_METHOD_NAMES)
def test_every_method_on_text(client, method):
    instances = [{"tokens": ["sahom", "gerreas", "goal", "vasho"]}, {"text": "storm vasho"}]
    body = {"instances": instances, "parameters": {"method": method, "targets": [0, 2]}}
    response = client.post(TEXT_URL, json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["method"] == method
    target = result["explanations"][0]["targets"][0]
    assert len(target["heatmap"]) == 4 and target["html"]


def test_metrics_through_the_three_encodings(client, shape_png):
    names = ["deletion", "insertion", "drop", "increase"]
    json_metrics = only_target(by_json(client, shape_png, metrics=names, metric_steps=8))
    form_metrics = only_target(
        by_form(client, shape_png, metrics="deletion,insertion,drop,increase", metric_steps="8")
    )
    raw_metrics = only_target(
        by_raw(client, shape_png, metrics="deletion,insertion,drop,increase", metric_steps="8")
    )
    assert list(json_metrics["metrics"]) == names
    assert json_metrics["metrics"] == form_metrics["metrics"] == raw_metrics["metrics"]
    values = json_metrics["metrics"]
    assert 0 <= values["deletion"] <= 1 and 0 <= values["insertion"] <= 1
    assert values["increase"] in (0.0, 1.0)
    assert only_target(by_json(client, shape_png))["metrics"] is None  # not asked for


def test_the_model_lists_its_methods(client):
    body = client.get("/v1/models/shapes").json()
    assert body["methods"] == list(CAM_METHOD_NAMES + PIXEL_METHODS + BLACKBOX_METHODS)
    assert client.get("/v1/models/shapes_vit").json()["methods"] == list(METHOD_NAMES)


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"method": "gradcam3"}, "method"),
        ({"method": "scorecam", "max_channels": 257}, "cap"),
        ({"max_channels": 0}, "max_channels"),
        ({"metrics": ["deletion", "nope"]}, "metrics"),
        ({"metrics": ["deletion"], "metric_steps": 65}, "metric_steps"),
        ({"method": "eigencam", "counterfactual": True}, "counterfactual"),
    ],
)
def test_bad_parameters_are_422(client, shape_png, parameters, detail):
    response = by_json(client, shape_png, **parameters)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.text


def test_bad_parameters_in_a_form_or_query_are_422(client, shape_png):
    assert by_form(client, shape_png, method="nope").status_code == 422
    assert by_form(client, shape_png, metrics="deletion,nope").status_code == 422
    assert by_raw(client, shape_png, metric_steps="100").status_code == 422
    assert by_raw(client, shape_png, method="scorecam", max_channels="1000").status_code == 422


def test_metrics_on_a_text_model_are_422(client):
    body = {"instances": [{"text": "goal"}], "parameters": {"metrics": ["deletion"]}}
    response = client.post(TEXT_URL, json=body)
    assert response.status_code == 422
    assert "image models only" in response.json()["detail"]


VIT_URL = "/v1/models/shapes_vit:explain"


@pytest.mark.parametrize("method", ["gradcam", "ablationcam", *ATTENTION_METHODS])
def test_vit_methods_give_patch_grid_maps(client, shape_png, method):
    body = {
        "instances": [{"image": {"b64": b64(shape_png)}}],
        "parameters": {"method": method, "relu": False},
    }
    response = client.post(VIT_URL, json=body)
    assert response.status_code == 200, response.text
    target = response.json()["explanations"][0]["targets"][0]
    heatmap = np.array(target["heatmap"])
    assert heatmap.shape == (8, 8) and np.abs(heatmap).max() == pytest.approx(1.0, abs=1e-4)
    assert decode_data_url(target["overlay"]).size == (64, 64)


def test_attention_methods_refused_for_a_cnn(client, shape_png):
    response = by_json(client, shape_png, method="attention-rollout")
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "MultiHeadAttention" in response.json()["detail"]


def test_vit_token_layer_without_grid_is_a_422(client, shape_png):
    body = {
        "instances": [{"image": {"b64": b64(shape_png)}}],
        "parameters": {"layer": "class_token"},
    }
    response = client.post(VIT_URL, json=body)
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert "'class_token'" in detail and "(None, 1, 64)" in detail and "patch tokens" in detail


def test_vit_faithfulness_and_several_targets(client, shape_png):
    parameters = {"targets": [0, 3], "metrics": ["deletion", "insertion"], "metric_steps": 8}
    body = {"instances": [{"image": {"b64": b64(shape_png)}}], "parameters": parameters}
    response = client.post(VIT_URL, json=body)
    assert response.status_code == 200, response.text
    targets = response.json()["explanations"][0]["targets"]
    assert [len(t["heatmap"]) for t in targets] == [8, 8]
    assert all(0 <= t["metrics"]["deletion"] <= 1 for t in targets)
