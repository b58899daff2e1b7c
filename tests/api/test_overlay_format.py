"""overlay_format: "auto" (the default) answers a JPEG photo with a JPEG composite and
everything else with a PNG; an explicit "png" stays ELI5's format_as_image exactly."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

from app.explain.options import ExplainOptions
from app.explain.overlays import overlay_format_for
from app.preprocess.image import is_jpeg
from tests.api.conftest import b64, decode_data_url, encode

URL = "/v1/models/shapes:explain"


@pytest.fixture(scope="module")
def photo(shape_images) -> Image.Image:
    return shape_images[0][0].resize((160, 120))


def explain(client, upload: bytes, **parameters: object) -> dict:
    body = {"instances": [{"image": {"b64": b64(upload)}}], "parameters": parameters}
    response = client.post(URL, json=body)
    assert response.status_code == 200, response.text
    return response.json()["explanations"][0]["targets"][0]


def media_type(data_url: str) -> str:
    return data_url.split(";", 1)[0].removeprefix("data:")


def test_a_jpeg_upload_gets_a_jpeg_composite_close_to_the_png(client, photo):
    upload = encode(photo, "JPEG", quality=90)
    auto, png = explain(client, upload), explain(client, upload, overlay_format="png")
    assert media_type(auto["overlay"]) == "image/jpeg"
    assert media_type(png["overlay"]) == "image/png"
    jpeg_pixels = np.asarray(decode_data_url(auto["overlay"]).convert("RGB"), dtype=np.float64)
    png_pixels = np.asarray(decode_data_url(png["overlay"]).convert("RGB"), dtype=np.float64)
    # Lossy, so a tolerance: JPEG at quality 80 stays within a few levels on average.
    assert jpeg_pixels.shape == png_pixels.shape == (120, 160, 3)
    assert np.abs(jpeg_pixels - png_pixels).mean() < 4.0
    assert len(auto["overlay"]) < len(png["overlay"]) / 2


@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "GIF"])
def test_other_uploads_keep_the_png(client, photo, fmt):
    upload = encode(photo if fmt != "GIF" else photo.convert("P"), fmt)
    auto, png = explain(client, upload), explain(client, upload, overlay_format="png")
    assert media_type(auto["overlay"]) == "image/png"
    assert auto["overlay"] == png["overlay"]


def test_the_layer_of_a_jpeg_stays_png(client, photo):
    layer = explain(client, encode(photo, "JPEG"), overlay="layer")["overlay"]
    assert media_type(layer) == "image/png"
    assert np.asarray(decode_data_url(layer))[..., 3].min() < 255  # still see-through


def test_explicit_png_of_a_jpeg_is_eli5s_format_as_image(client, photo):
    from eli5.base import Explanation, TargetExplanation
    from eli5.formatters.image import format_as_image

    upload = encode(photo, "JPEG")
    target = explain(client, upload, overlay_format="png")
    heatmap = np.array(target["heatmap"], dtype=np.float32)
    decoded = Image.open(io.BytesIO(upload)).convert("RGB")
    explanation = Explanation(
        "oracle", targets=[TargetExplanation(0, heatmap=heatmap)], image=decoded
    )
    theirs = np.asarray(format_as_image(explanation))
    assert np.array_equal(np.asarray(decode_data_url(target["overlay"])), theirs)


@pytest.mark.parametrize(
    ("accept", "magic"), [("image/png", b"\x89PNG"), ("image/jpeg", b"\xff\xd8\xff")]
)
def test_an_explicit_accept_gets_the_type_it_asked_for(client, photo, accept, magic):
    for upload, content_type in (
        (encode(photo, "JPEG"), "image/jpeg"),
        (encode(photo), "image/png"),
    ):
        response = client.post(
            URL, content=upload, headers={"content-type": content_type, "accept": accept}
        )
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == accept
        assert response.content.startswith(magic)


def test_every_encoding_of_a_jpeg_is_answered_in_kind(client, photo):
    upload = encode(photo, "JPEG")
    multipart = client.post(URL, files={"image": ("p.jpg", upload, "image/jpeg")})
    raw = client.post(URL, content=upload, headers={"content-type": "image/jpeg"})
    for response in (multipart, raw):
        assert response.status_code == 200, response.text
        overlay = response.json()["explanations"][0]["targets"][0]["overlay"]
        assert media_type(overlay) == "image/jpeg"
        assert base64.b64decode(overlay.split(",", 1)[1]).startswith(b"\xff\xd8\xff")


def test_auto_resolves_per_upload():
    assert is_jpeg(b"\xff\xd8\xff\xe0rest") and not is_jpeg(b"\x89PNG\r\n\x1a\n")
    composite, layer = ExplainOptions(), ExplainOptions(overlay="layer")
    assert overlay_format_for(composite, from_jpeg=True) == "jpeg"
    assert overlay_format_for(composite, from_jpeg=False) == "png"
    assert overlay_format_for(layer, from_jpeg=True) == "png"
    for fmt in ("png", "jpeg", "webp"):
        assert overlay_format_for(ExplainOptions(overlay_format=fmt), from_jpeg=True) == fmt
        assert overlay_format_for(ExplainOptions(overlay_format=fmt), from_jpeg=False) == fmt
