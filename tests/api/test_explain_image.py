"""POST /v1/models/{id}:explain for images: three encodings, parameters, overlays."""

import io

import numpy as np
import pytest
from PIL import Image

from tests.api.conftest import b64, decode_data_url, encode

URL = "/v1/models/shapes:explain"


def explain_json(client, images, **parameters):
    body = {"instances": [{"image": {"b64": b64(data)}} for data in images]}
    if parameters:
        body["parameters"] = parameters
    return client.post(URL, json=body)


def test_json_encoding_several_instances_and_targets(client, shape_images):
    images, _ = shape_images
    response = explain_json(client, [encode(img) for img in images[:3]], targets=[0, 2])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_id"] == "shapes" and body["model_version"] == "1"
    assert body["method"] == "gradcam"
    assert len(body["predictions"]) == 3 and len(body["predictions"][0]) == 4
    assert np.allclose(np.sum(body["predictions"], axis=1), 1.0, atol=1e-4)
    assert len(body["explanations"]) == 3
    for explanation in body["explanations"]:
        assert explanation["image"] == {"width": 64, "height": 64}
        targets = explanation["targets"]
        assert [t["target"] for t in targets] == [0, 2]
        assert [t["label"] for t in targets] == ["circle", "triangle"]
        heatmap = np.array(targets[0]["heatmap"])
        assert heatmap.ndim == 2 and heatmap.min() >= 0 and heatmap.max() <= 1
        assert decode_data_url(targets[0]["overlay"]).size == (64, 64)


def test_top_prediction_is_the_default_target(client, shape_images):
    images, labels = shape_images
    body = explain_json(client, [encode(images[0])]).json()
    top = int(np.argmax(body["predictions"][0]))
    target = body["explanations"][0]["targets"][0]
    assert target["target"] == top == labels[0]
    assert target["score"] == pytest.approx(body["predictions"][0][top], rel=1e-5)


def test_multipart_encoding(client, shape_png):
    response = client.post(
        URL,
        files={"image": ("shape.png", shape_png, "image/png")},
        data={"targets": "1,3", "relu": "false", "colormap": "jet"},
    )
    assert response.status_code == 200, response.text
    targets = response.json()["explanations"][0]["targets"]
    assert [t["target"] for t in targets] == [1, 3]


def test_raw_body_encoding_with_query_parameters(client, shape_png):
    response = client.post(
        URL, content=shape_png, headers={"content-type": "image/png"}, params={"targets": "2"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["explanations"][0]["targets"][0]["target"] == 2


def test_the_three_encodings_give_the_same_heatmap(client, shape_png):
    by_json = explain_json(client, [shape_png], targets=[1]).json()
    by_form = client.post(
        URL, files={"image": ("a.png", shape_png, "image/png")}, data={"targets": "1"}
    ).json()
    by_raw = client.post(
        URL, content=shape_png, headers={"content-type": "image/png"}, params={"targets": "1"}
    ).json()
    maps = [r["explanations"][0]["targets"][0]["heatmap"] for r in (by_json, by_form, by_raw)]
    assert maps[0] == maps[1] == maps[2]


def test_relu_off_keeps_negative_values_and_scale_recovers_raw(client, shape_images):
    images, labels = shape_images
    wrong = (labels[0] + 1) % 4
    body = explain_json(client, [encode(images[0])], targets=[wrong], relu=False).json()
    target = body["explanations"][0]["targets"][0]
    heatmap = np.array(target["heatmap"])
    assert heatmap.min() < 0
    assert np.abs(heatmap).max() == pytest.approx(1.0, abs=1e-5)
    assert target["scale"] > 0


def test_counterfactual_flips_the_unrectified_map(client, shape_png):
    plain = explain_json(client, [shape_png], targets=[0], relu=False).json()
    flipped = explain_json(client, [shape_png], targets=[0], relu=False, counterfactual=True).json()
    a = np.array(plain["explanations"][0]["targets"][0]["heatmap"])
    b = np.array(flipped["explanations"][0]["targets"][0]["heatmap"])
    np.testing.assert_allclose(a, -b, atol=1e-6)


def test_score_modes_differ(client, shape_images):
    images, labels = shape_images
    data = encode(images[1])
    logit = explain_json(client, [data], targets=[labels[1]], score="logit").json()
    output = explain_json(client, [data], targets=[labels[1]], score="output").json()
    maps = [np.array(r["explanations"][0]["targets"][0]["heatmap"]) for r in (logit, output)]
    assert not np.allclose(maps[0], maps[1])
    # The reported score is the model output either way.
    scores = [r["explanations"][0]["targets"][0]["score"] for r in (logit, output)]
    assert scores[0] == pytest.approx(scores[1])


def test_layer_by_name_and_index(client, shape_png):
    detail = client.get("/v1/models/shapes").json()
    first = detail["candidate_layers"][0]
    by_name = explain_json(client, [shape_png], layer=first["name"]).json()
    assert by_name["layer"] == first["name"]
    shape = first["output_shape"][1:3]
    assert np.array(by_name["explanations"][0]["targets"][0]["heatmap"]).shape == tuple(shape)
    by_index = explain_json(client, [shape_png], layer=first["index"]).json()
    assert by_index["layer"] == first["name"]
    by_form = client.post(
        URL, files={"image": ("a.png", shape_png, "image/png")}, data={"layer": str(first["index"])}
    ).json()
    assert by_form["layer"] == first["name"]


@pytest.mark.parametrize("colormap", ["viridis", "jet", "inferno", "magma", "gray"])
def test_colormaps(client, shape_png, colormap):
    response = explain_json(client, [shape_png], colormap=colormap)
    assert response.status_code == 200, response.text
    overlay = decode_data_url(response.json()["explanations"][0]["targets"][0]["overlay"])
    assert overlay.mode == "RGBA"


def test_colormaps_change_the_overlay(client, shape_png):
    overlays = [
        explain_json(client, [shape_png], colormap=name).json()["explanations"][0]["targets"][0][
            "overlay"
        ]
        for name in ("viridis", "jet")
    ]
    assert overlays[0] != overlays[1]


def test_alpha_limit_zero_returns_the_original_pixels(client, shape_images):
    image = shape_images[0][2]
    body = explain_json(client, [encode(image)], alpha_limit=0).json()
    overlay = decode_data_url(body["explanations"][0]["targets"][0]["overlay"])
    assert overlay.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(overlay.convert("RGB")), np.asarray(image))


def test_overlay_can_be_switched_off(client, shape_png):
    body = explain_json(client, [shape_png], overlay=False).json()
    assert body["explanations"][0]["targets"][0]["overlay"] is None


@pytest.mark.parametrize(
    ("fmt", "magic"), [("jpeg", b"\xff\xd8"), ("webp", b"RIFF"), ("png", b"\x89PNG")]
)
def test_overlay_formats(client, shape_png, fmt, magic):
    body = explain_json(client, [shape_png], overlay_format=fmt).json()
    url = body["explanations"][0]["targets"][0]["overlay"]
    assert url.startswith(f"data:image/{fmt};base64,")
    import base64

    assert base64.b64decode(url.split(",", 1)[1]).startswith(magic)


def test_accept_image_png_returns_the_overlay_bytes(client, shape_images):
    image = shape_images[0][0].resize((200, 150))
    response = client.post(
        URL,
        files={"image": ("a.jpg", encode(image, "JPEG"), "image/jpeg")},
        headers={"accept": "image/png"},
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    picture = Image.open(io.BytesIO(response.content))
    assert picture.format == "PNG" and picture.size == (200, 150) and picture.mode == "RGBA"


def test_accept_image_on_a_text_model_is_406(client):
    response = client.post(
        "/v1/models/keywords:explain",
        json={"instances": [{"text": "goal"}]},
        headers={"accept": "image/png"},
    )
    assert response.status_code == 406
    assert response.headers["content-type"] == "application/problem+json"


def test_large_upload_overlay_is_capped_keeping_aspect(client, shape_images):
    big = shape_images[0][0].resize((2000, 1000))
    body = explain_json(client, [encode(big, "JPEG")]).json()
    explanation = body["explanations"][0]
    assert explanation["image"] == {"width": 2000, "height": 1000}
    assert decode_data_url(explanation["targets"][0]["overlay"]).size == (1024, 512)


def test_exif_orientation_is_applied_before_anything_else(client, shape_images):
    image = shape_images[0][0].resize((80, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    data = encode(image, "JPEG", exif=exif.tobytes(), quality=95)
    body = explain_json(client, [data]).json()
    explanation = body["explanations"][0]
    assert explanation["image"] == {"width": 40, "height": 80}
    assert decode_data_url(explanation["targets"][0]["overlay"]).size == (40, 80)


def test_non_square_upload_is_resized_for_the_model(client, shape_images):
    image = shape_images[0][0].resize((128, 96))
    body = explain_json(client, [encode(image)]).json()
    assert len(body["explanations"][0]["targets"][0]["heatmap"]) > 0
