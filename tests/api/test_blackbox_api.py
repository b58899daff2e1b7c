"""Occlusion and RISE through the HTTP API: options in the three encodings, 422s."""

import numpy as np
import pytest
from PIL import Image

from app.engine.methods import BLACKBOX_METHODS
from tests.api.conftest import b64, decode_data_url, encode
from tests.api.test_methods_api import by_form, by_json, by_raw, only_target

TEXT_URL = "/v1/models/keywords:explain"


def test_occlusion_through_the_three_encodings(client, shape_png):
    maps = [
        only_target(by_json(client, shape_png, method="occlusion", occlusion_window=16)),
        only_target(by_form(client, shape_png, method="occlusion", occlusion_window="16")),
        only_target(by_raw(client, shape_png, method="occlusion", occlusion_window="16")),
    ]
    assert maps[0]["heatmap"] == maps[1]["heatmap"] == maps[2]["heatmap"]
    heatmap = np.array(maps[0]["heatmap"])
    assert heatmap.shape == (64, 64)  # the model input's resolution
    assert heatmap.max() == pytest.approx(1.0, abs=1e-6) and heatmap.min() >= 0
    assert decode_data_url(maps[0]["overlay"]).size == (64, 64)


def test_the_shape_occluded_is_what_counts(client, shape_images):
    """The windows that black out the shape lower its score most: the map's peak lies
    where the shape differs from the background."""
    images, labels = shape_images
    png = encode(images[1])
    target = only_target(by_json(client, png, method="occlusion", targets=[labels[1]]))
    heatmap = np.array(target["heatmap"])
    pixels = np.asarray(images[1], np.float32)
    background = np.median(pixels.reshape(-1, 3), axis=0)
    shape = np.abs(pixels - background).mean(axis=-1) > 40
    assert shape[np.unravel_index(np.argmax(heatmap), heatmap.shape)]


def test_rise_is_seeded(client, shape_png):
    first = only_target(by_json(client, shape_png, method="rise", rise_masks=64, seed=3))
    again = only_target(by_raw(client, shape_png, method="rise", rise_masks="64", seed="3"))
    other = only_target(by_json(client, shape_png, method="rise", rise_masks=64, seed=4))
    assert first["heatmap"] == again["heatmap"] != other["heatmap"]
    assert np.array(first["heatmap"]).shape == (64, 64)


@pytest.mark.parametrize(
    ("parameters", "detail"),
    [
        ({"method": "occlusion", "occlusion_window": 0}, "occlusion_window"),
        ({"method": "occlusion", "occlusion_window": 65}, "occlusion_window"),
        ({"method": "occlusion", "occlusion_stride": 0}, "occlusion_stride"),
        ({"method": "rise", "rise_masks": 0}, "rise_masks"),
        ({"method": "rise", "rise_masks": 100000}, "rise_masks"),
        ({"method": "rise", "rise_cells": 1}, "rise_cells"),
        ({"method": "rise", "rise_cells": 65}, "rise_cells"),
        ({"method": "rise", "seed": -1}, "seed"),
        ({"method": "rise", "seed": "x"}, "seed"),
    ],
)
def test_bad_options_are_422(client, shape_png, parameters, detail):
    response = by_json(client, shape_png, **parameters)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.text


@pytest.mark.parametrize("method", BLACKBOX_METHODS)
def test_text_models_refuse_them(client, method):
    body = {"instances": [{"text": "storm vasho"}], "parameters": {"method": method}}
    response = client.post(TEXT_URL, json=body)
    assert response.status_code == 422, response.text
    assert "image models" in response.json()["detail"]


def test_the_model_lists_them(client):
    shapes = client.get("/v1/models/shapes").json()
    keywords = client.get("/v1/models/keywords").json()
    assert set(BLACKBOX_METHODS) <= set(shapes["methods"])
    assert not set(BLACKBOX_METHODS) & set(keywords["methods"])


def test_overlay_is_drawn_on_the_upload(client, shape_images):
    images, _ = shape_images
    big = images[0].resize((128, 96), Image.Resampling.NEAREST)
    png = encode(big)
    target = only_target(by_json(client, png, method="occlusion", occlusion_window=16))
    assert decode_data_url(target["overlay"]).size == (128, 96)


def test_a_kserve_b64_instance_is_an_image(client, shape_png):
    """KServe V1 / TF Serving's image instance `{"b64": ...}` = `{"image": {"b64": ...}}`."""
    kserve = {"instances": [{"b64": b64(shape_png)}], "parameters": {"targets": [1]}}
    ours = {"instances": [{"image": {"b64": b64(shape_png)}}], "parameters": {"targets": [1]}}
    first = client.post("/v1/models/shapes:explain", json=kserve)
    second = client.post("/v1/models/shapes:explain", json=ours)
    assert first.status_code == 200, first.text
    assert only_target(first)["heatmap"] == only_target(second)["heatmap"]
    mixed = {"instances": [{"b64": b64(shape_png), "text": "x"}]}
    assert client.post("/v1/models/shapes:explain", json=mixed).status_code == 422
