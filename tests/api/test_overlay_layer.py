"""overlay=layer: the coloured heatmap alone, for a client that shows its own image."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import b64, decode_data_url, encode

URL = "/v1/models/shapes:explain"


def first_target(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()["explanations"][0]["targets"][0]


def over(image: Image.Image, layer: Image.Image) -> np.ndarray:
    """What a browser shows: the layer drawn over the opaque image (source-over)."""
    pixels = np.asarray(layer, dtype=np.float64)
    alpha = pixels[..., 3:] / 255
    return pixels[..., :3] * alpha + np.asarray(image, dtype=np.float64) * (1 - alpha)


def test_json_layer_laid_over_the_image_is_the_composite_overlay(client, shape_images):
    image = shape_images[0][0].resize((96, 72))
    body = {"instances": [{"image": {"b64": b64(encode(image))}}]}
    composite = decode_data_url(first_target(client.post(URL, json=body))["overlay"])
    body["parameters"] = {"overlay": "layer"}
    layer = decode_data_url(first_target(client.post(URL, json=body))["overlay"])
    assert layer.format == "PNG" and layer.mode == "RGBA" and layer.size == (96, 72)
    assert np.asarray(layer)[..., 3].min() < 255  # see-through somewhere
    difference = np.abs(over(image, layer) - np.asarray(composite)[..., :3])
    assert difference.max() < 1.0


@pytest.mark.parametrize("value", [True, False, "layer"])
def test_json_overlay_accepts_booleans_and_layer(client, shape_png, value):
    body = {"instances": [{"image": {"b64": b64(shape_png)}}], "parameters": {"overlay": value}}
    overlay = first_target(client.post(URL, json=body))["overlay"]
    if value is False:
        assert overlay is None
    else:
        alpha = np.asarray(decode_data_url(overlay))[..., 3]
        assert bool(alpha.min() == 255) is (value is True)  # the composite is opaque


@pytest.mark.parametrize("value", ["layers", "yes please", 2, None])
def test_json_overlay_refuses_other_values(client, shape_png, value):
    body = {"instances": [{"image": {"b64": b64(shape_png)}}], "parameters": {"overlay": value}}
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_multipart_field_layer_and_false(client, shape_png):
    files = {"image": ("s.png", shape_png, "image/png")}
    layer = first_target(client.post(URL, files=files, data={"overlay": "layer"}))["overlay"]
    assert np.asarray(decode_data_url(layer))[..., 3].min() < 255
    none = first_target(client.post(URL, files=files, data={"overlay": "false"}))["overlay"]
    assert none is None


def test_raw_body_with_accept_png_returns_the_layer_bytes(client, shape_images):
    image = shape_images[0][0].resize((200, 150))
    response = client.post(
        URL,
        content=encode(image, "JPEG"),
        params={"overlay": "layer", "targets": "2"},
        headers={"content-type": "image/jpeg", "accept": "image/png"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    layer = Image.open(io.BytesIO(response.content))
    assert (layer.format, layer.mode, layer.size) == ("PNG", "RGBA", (200, 150))
    assert np.asarray(layer)[..., 3].min() < 255


def test_layer_of_a_large_upload_is_capped_keeping_aspect(client, shape_images):
    big = shape_images[0][0].resize((2000, 1000))
    body = {"instances": [{"image": {"b64": b64(encode(big, "JPEG"))}}]}
    body["parameters"] = {"overlay": "layer", "overlay_format": "webp"}
    layer = decode_data_url(first_target(client.post(URL, json=body))["overlay"])
    # The shapes model's map is 16x16: 32 px per cell is 512 px along the longest side.
    assert (layer.format, layer.size, layer.mode) == ("WEBP", (512, 256), "RGBA")


def test_layer_scaled_up_over_a_photo_sized_image_is_the_composite(client, shape_images):
    """Sized by the map, not the image: a client scaling the layer up (bilinearly, as a
    browser draws it) and laying it over its image sees the composite, within 6 of 255."""
    image = shape_images[0][0].resize((1024, 768))
    body = {"instances": [{"image": {"b64": b64(encode(image))}}]}
    target = first_target(client.post(URL, json=body))
    composite = np.asarray(decode_data_url(target["overlay"]))[..., :3]
    body["parameters"] = {"overlay": "layer"}
    layer = decode_data_url(first_target(client.post(URL, json=body))["overlay"])
    cells = max(np.shape(target["heatmap"]))
    assert layer.size == (32 * cells, 24 * cells) == (512, 384)
    shown = over(image, layer.resize(image.size, Image.Resampling.BILINEAR))
    difference = np.abs(shown - composite)
    assert difference.max() <= 6.0  # measured 4.6: 8-bit premultiplied rounding, twice
    assert np.percentile(difference, 99) <= 2.0


def test_layer_as_jpeg_is_refused(client, shape_png):
    body = {"instances": [{"image": {"b64": b64(shape_png)}}]}
    body["parameters"] = {"overlay": "layer", "overlay_format": "jpeg"}
    response = client.post(URL, json=body)
    assert response.status_code == 422
    assert "jpeg" in response.json()["detail"]
