"""The sync client against a live server: every call, typed results, error mapping."""

from __future__ import annotations

import io
import os
from urllib.parse import urljoin

import httpx
import numpy as np
import pytest
from gradcam_client import Client, ExplainResult, ProblemError
from PIL import Image

from tests.live_server import shape_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PNG, DRAWN = shape_sample(seed=11)
SHAPE_LABELS = ("circle", "square", "triangle", "cross")


@pytest.fixture(scope="module")
def client(server_url: str):
    with Client(server_url, timeout=30) as client:
        yield client


def test_models_lists_the_served_models(client: Client):
    models = {summary.id: summary for summary in client.models()}
    assert set(models) == {"shapes", "keywords"}
    assert models["shapes"].task == "image" and models["keywords"].task == "text"
    assert all(summary.ready for summary in models.values())


def test_model_gives_inputs_labels_and_layers(client: Client):
    info = client.model("shapes")
    assert info.input_shape == (None, 64, 64, 3)
    assert info.labels == SHAPE_LABELS and info.n_classes == 4
    assert info.default_layer == "last_conv"
    assert "last_conv" in [layer.name for layer in info.candidate_layers]


def test_image_as_path_bytes_pil_or_array_gives_the_same_explanation(client: Client, tmp_path):
    path = tmp_path / "shape.png"
    path.write_bytes(PNG)
    image = Image.open(io.BytesIO(PNG))
    inputs = [path, str(path), PNG, image, np.asarray(image)]
    results = [client.explain_image("shapes", item) for item in inputs]
    first = results[0].explanation.targets[0]
    for result in results[1:]:
        target = result.explanation.targets[0]
        np.testing.assert_allclose(result.predictions, results[0].predictions, atol=1e-5)
        np.testing.assert_allclose(target.heatmap, first.heatmap, atol=1e-5)


def test_result_is_typed(client: Client):
    result = client.explain_image("shapes", PNG)
    assert isinstance(result, ExplainResult)
    assert result.model_id == "shapes" and result.layer == "last_conv"
    top = result.top_k(4)
    assert [p.score for p in top] == sorted((p.score for p in top), reverse=True)
    assert top[0].index == DRAWN and top[0].label == SHAPE_LABELS[DRAWN]
    assert result.predictions.shape == (1, 4)
    explanation = result.explanation
    assert explanation.image_size == (64, 64)
    target = explanation.targets[0]
    assert target.target == DRAWN and target.label == SHAPE_LABELS[DRAWN]
    assert target.heatmap.ndim == 2 and target.heatmap.dtype == np.float32
    assert target.heatmap.min() >= 0.0 and target.heatmap.max() <= 1.0
    assert target.overlay is not None and target.overlay.size == (64, 64)
    assert target.overlay.format == "PNG"


def test_targets_layer_and_passed_through_parameters(client: Client):
    result = client.explain_image(
        "shapes", PNG, targets=[0, 2], layer="conv5", overlay_format="jpeg", colormap="jet"
    )
    targets = result.explanation.targets
    assert [t.target for t in targets] == [0, 2]
    assert [t.label for t in targets] == ["circle", "triangle"]
    assert result.layer == "conv5"
    assert targets[0].overlay_format == "jpeg" and targets[0].overlay.format == "JPEG"


def test_a_jpeg_photo_gets_a_jpeg_overlay_unless_png_is_asked(client: Client):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(PNG)).convert("RGB").save(buffer, "JPEG")
    auto = client.explain_image("shapes", buffer.getvalue()).explanation.targets[0]
    assert auto.overlay_format == "jpeg" and auto.overlay is not None
    assert auto.overlay.format == "JPEG" and auto.overlay.size == (64, 64)
    png = client.explain_image("shapes", buffer.getvalue(), overlay_format="png")
    assert png.explanation.targets[0].overlay_format == "png"


def test_overlay_false_sends_no_overlay(client: Client):
    target = client.explain_image("shapes", PNG, overlay=False).explanation.targets[0]
    assert target.overlay_url is None and target.overlay is None
    assert target.heatmap.size > 0


def test_a_list_of_images_is_one_request_with_one_explanation_each(client: Client):
    other, drawn = shape_sample(seed=12)
    result = client.explain_image("shapes", [PNG, other])
    assert len(result.explanations) == 2
    assert [result.top_k(1, sample=i)[0].index for i in (0, 1)] == [DRAWN, drawn]
    with pytest.raises(ValueError, match="2 inputs"):
        _ = result.explanation


def test_explain_text_from_text_tokens_and_ids(client: Client):
    words = ["goal", "storm", "vasho", "piano"]
    by_text = client.explain_text("keywords", text=" ".join(words))
    by_tokens = client.explain_text("keywords", tokens=words)
    for result in (by_text, by_tokens):
        explanation = result.explanation
        assert explanation.tokens == words
        target = explanation.targets[0]
        assert target.heatmap.shape == (len(words),)
        assert target.weighted_spans is not None and target.weighted_spans.document
        assert target.html and target.label == result.label(target.target)
    np.testing.assert_allclose(by_text.predictions, by_tokens.predictions, atol=1e-6)


def test_explain_text_with_tokens_and_their_ids(client: Client):
    result = client.explain_text("keywords", tokens=["sahom", "gerreas"], ids=[2, 4])
    assert result.explanation.tokens == ["sahom", "gerreas"]
    reference = client.explain_text("keywords", text="sahom gerreas")
    np.testing.assert_allclose(result.predictions, reference.predictions, atol=1e-6)


def test_unknown_model_is_a_404_problem(client: Client):
    for call in (lambda: client.model("nope"), lambda: client.explain_image("nope", PNG)):
        with pytest.raises(ProblemError) as caught:
            call()
        problem = caught.value
        assert problem.status == 404 and problem.title == "Model not found"
        assert problem.type is not None and problem.type == "/problems/model-not-found"
        assert "nope" in problem.detail and problem.body["status"] == 404


def test_a_problem_type_resolves_against_the_service(server_url: str):
    with pytest.raises(ProblemError) as caught, Client(server_url, timeout=30) as client:
        client.model("nope")
    assert caught.value.type is not None
    page = httpx.get(urljoin(server_url, caught.value.type), timeout=30)
    assert page.status_code == 200 and "Model not found" in page.text


def test_a_target_the_model_lacks_is_a_422_problem(client: Client):
    with pytest.raises(ProblemError) as caught:
        client.explain_image("shapes", PNG, targets=[99])
    assert caught.value.status == 422 and "99" in caught.value.detail


def test_a_request_that_does_not_validate_lists_its_errors(client: Client):
    with pytest.raises(ProblemError) as caught:
        client.explain_image("shapes", PNG, alpha_limit=3.0)
    problem = caught.value
    assert problem.status == 422 and problem.title == "Invalid request"
    assert [error["field"] for error in problem.errors] == ["parameters.alpha_limit"]


def test_an_undecodable_image_is_a_400_problem(client: Client):
    with pytest.raises(ProblemError) as caught:
        client.explain_image("shapes", b"these bytes are not an image")
    assert caught.value.status == 400 and caught.value.title == "Invalid image"


def test_an_unsupported_media_type_is_a_415_problem(client: Client):
    with pytest.raises(ProblemError) as caught:
        client.request(
            "POST",
            "/v1/models/shapes:explain",
            content=b"hi",
            headers={"content-type": "text/plain"},
        )
    assert caught.value.status == 415 and "text/plain" in caught.value.detail


def test_a_body_over_the_limit_is_a_413_problem(client: Client):
    too_big = os.urandom(1024 * 1024)  # base64 in JSON: over the 1 MiB JSON limit
    with pytest.raises(ProblemError) as caught:
        client.explain_image("shapes", too_big)
    assert caught.value.status == 413 and caught.value.title == "Payload too large"


def noise_png(side: int) -> bytes:
    pixels = np.random.default_rng(side).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def test_an_image_too_large_for_json_goes_as_a_raw_body(client: Client):
    large = noise_png(700)
    assert len(large) > 1024 * 1024  # over the service's JSON cap once base64-encoded
    result = client.explain_image("shapes", large, targets=[0, 2], overlay_format="jpeg")
    assert result.explanation.image_size == (700, 700)
    assert [t.target for t in result.explanation.targets] == [0, 2]
    assert result.explanation.targets[0].overlay.format == "JPEG"
    bare = client.explain_image("shapes", large, overlay=False)
    assert bare.explanation.targets[0].overlay is None


def test_a_raw_image_over_the_upload_limit_is_a_413_problem(client: Client):
    too_big = b"\x89PNG\r\n\x1a\n" + os.urandom(9 * 1024 * 1024)  # the limit is 8 MiB
    with pytest.raises(ProblemError) as caught:
        client.explain_image("shapes", too_big)
    assert caught.value.status == 413


def test_a_token_layer_keeps_its_grid_and_prefix():
    from gradcam_client.results import parse_layer

    token = parse_layer(
        {"name": "b3_norm1", "index": 30, "output_shape": [None, 65, 64],
         "token_grid": [8, 8], "prefix_tokens": 1}
    )  # fmt: skip
    assert (token.token_grid, token.prefix_tokens) == ((8, 8), 1)
    conv = parse_layer({"name": "c", "index": 2, "output_shape": [None, 8, 8, 16]})
    assert conv.token_grid is None and conv.prefix_tokens is None
    assert conv.output_shape == (None, 8, 8, 16)
