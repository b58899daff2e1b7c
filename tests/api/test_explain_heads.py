"""Target objects through the API: regions, boxes, outputs; each bad input its problem."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.settings import Settings
from tests import head_models as hm
from tests.api.conftest import b64, decode_data_url, encode

IMAGE = '[image]\nsize = [16, 16]\nscaling = "unit"\n'
SIDE = 32  # uploads are twice the model input: masks and boxes are mapped


def add_model(root: Path, model_id: str, model, body: str) -> None:  # type: ignore[no-untyped-def]
    folder = root / model_id
    folder.mkdir()
    model.save(folder / "model.keras")
    card = f'id = "{model_id}"\ntask = "image"\nmodel_file = "model.keras"\n{body}{IMAGE}'
    (folder / "model.toml").write_text(card, encoding="utf-8")


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("models")
    add_model(root, "seg", hm.segmentation_model(), 'head = "segmentation"\n')
    detection = (
        'head = "detection"\n[detection]\nboxes_output = "boxes"\nscores_output = "scores"\n'
        'box_format = "cxcywh"\nscore_threshold = 0.3\n'
    )
    add_model(root, "det", hm.detection_model(), detection)
    add_model(root, "tags", hm.vector_model("multilabel"), 'head = "multilabel"\n')
    app = create_app(Settings(models_dir=root, _env_file=None))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def upload() -> bytes:
    image = (hm.scenes(1, seed=11)[0][0] * 255).astype(np.uint8)
    return encode(Image.fromarray(image).resize((SIDE, SIDE)))


def png_mask(width: int, height: int, box: tuple[int, int, int, int] | None) -> str:
    mask = np.zeros((height, width), np.uint8)
    if box is not None:
        x0, y0, x1, y1 = box
        mask[y0:y1, x0:x1] = 255
    return b64(encode(Image.fromarray(mask)))


def explain(client: TestClient, model_id: str, upload: bytes, targets: object = None):  # type: ignore[no-untyped-def]
    parameters = {"overlay": False} if targets is None else {"overlay": False, "targets": targets}
    body = {"instances": [{"image": {"b64": b64(upload)}}], "parameters": parameters}
    return client.post(f"/v1/models/{model_id}:explain", json=body)


def problem(response, slug: str) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == f"/problems/{slug}"
    return str(response.json()["detail"])


def test_region_target_answers_its_region_and_the_class_map(client, upload):
    mask = png_mask(SIDE, SIDE, (8, 8, 24, 24))  # the centre: 8x8 output cells 2..5
    response = explain(client, "seg", upload, [{"class": 2, "mask": {"b64": mask}}])
    assert response.status_code == 200, response.text
    explanation = response.json()["explanations"][0]
    (target,) = explanation["targets"]
    assert (target["kind"], target["target"], target["region_pixels"]) == ("region", 2, 16)
    assert np.asarray(explanation["segmentation"]).shape == (8, 8)
    assert response.json()["output"] == "segmentation"


def test_a_mask_of_another_size_names_both_sizes(client, upload):
    response = explain(
        client, "seg", upload, [{"class": 1, "mask": {"b64": png_mask(20, 10, None)}}]
    )
    detail = problem(response, "mask-size-mismatch")
    assert "20x10" in detail and f"{SIDE}x{SIDE}" in detail


def test_an_empty_mask_and_an_unpredicted_class_are_empty_regions(client, upload):
    blank = png_mask(SIDE, SIDE, None)
    problem(explain(client, "seg", upload, [{"class": 1, "mask": {"b64": blank}}]), "empty-region")
    segmentation = np.asarray(
        explain(client, "seg", upload).json()["explanations"][0]["segmentation"]
    )
    absent = sorted(set(range(hm.SEG_CLASSES)) - set(segmentation.ravel().tolist()))
    assert absent, "the random model predicts every class somewhere: pick another scene"
    detail = problem(explain(client, "seg", upload, [absent[0]]), "empty-region")
    assert f"class {absent[0]} is predicted on no pixel" in detail


def test_a_box_target_explains_the_predicted_box_it_matches(client, upload):
    default = explain(client, "det", upload).json()["explanations"][0]
    predicted = default["targets"][0]["box"]
    assert default["targets"][0]["kind"] == "box"
    assert isinstance(default["detections"], list)
    response = explain(client, "det", upload, [{"class": 1, "box": predicted}])
    assert response.status_code == 200, response.text
    (target,) = response.json()["explanations"][0]["targets"]
    assert target["iou"] == pytest.approx(1.0, abs=1e-3)
    assert target["box"] == pytest.approx(predicted, abs=1e-3)


def test_a_box_outside_the_image(client, upload):
    detail = problem(explain(client, "det", upload, [{"box": [4, 4, 40, 20]}]), "box-outside-image")
    assert f"{SIDE}x{SIDE}" in detail


def test_a_box_matching_no_prediction_names_the_best_iou(client, upload):
    detail = problem(explain(client, "det", upload, [{"box": [0, 0, 0.5, 0.5]}]), "no-matching-box")
    assert "the best IoU is" in detail


def test_an_unknown_output_lists_the_outputs(client, upload):
    detail = problem(
        explain(client, "det", upload, [{"output": "nope", "class": 0}]), "unknown-output"
    )
    assert "outputs: scores" in detail


def test_object_targets_a_head_does_not_take(client, upload):
    mask = {"b64": png_mask(SIDE, SIDE, (0, 0, 8, 8))}
    problem(explain(client, "tags", upload, [{"class": 0, "mask": mask}]), "target-not-taken")
    problem(explain(client, "seg", upload, [{"class": 0, "box": [0, 0, 8, 8]}]), "target-not-taken")


def test_multilabel_default_targets_and_class_objects(client, upload):
    response = explain(client, "tags", upload)
    assert response.status_code == 200, response.text
    body = response.json()
    probabilities = np.asarray(body["predictions"][0])
    expected = np.flatnonzero(probabilities >= 0.5).tolist() or [int(probabilities.argmax())]
    assert [t["target"] for t in body["explanations"][0]["targets"]] == expected
    chosen = explain(client, "tags", upload, [{"class": 2}, 0]).json()["explanations"][0]
    assert [t["target"] for t in chosen["targets"]] == [2, 0]


def test_multipart_takes_targets_as_json_text(client, upload):
    targets = json.dumps([{"class": 3, "mask": {"b64": png_mask(SIDE, SIDE, (0, 0, 16, 16))}}])
    response = client.post(
        "/v1/models/seg:explain",
        files={"image": ("scene.png", upload, "image/png")},
        data={"targets": targets, "overlay": "false"},
    )
    assert response.status_code == 200, response.text
    (target,) = response.json()["explanations"][0]["targets"]
    assert (target["target"], target["region_pixels"]) == (3, 16)


def test_draw_targets_outlines_the_box_on_the_overlay(client, upload):
    box = explain(client, "det", upload).json()["explanations"][0]["targets"][0]["box"]
    body = {
        "instances": [{"image": {"b64": b64(upload)}}],
        "parameters": {"targets": [{"box": box}], "overlay_format": "png", "draw_targets": True},
    }
    response = client.post("/v1/models/det:explain", json=body)
    assert response.status_code == 200, response.text
    overlay = decode_data_url(response.json()["explanations"][0]["targets"][0]["overlay"])
    x0, y0, x1, _ = (int(v) for v in box)
    pixels = np.asarray(overlay.convert("RGB"))
    assert (pixels[y0, x0:x1] == 255).all()  # the box's top edge, white


def test_the_model_detail_lists_its_outputs_and_heads(client):
    outputs = client.get("/v1/models/det").json()["outputs"]
    assert outputs == [{"name": "scores", "head": "detection", "n_classes": 4, "labels": []}]
    assert client.get("/v1/models/seg").json()["outputs"][0]["head"] == "segmentation"


def explain_with(client, model_id, upload, targets, **parameters):  # type: ignore[no-untyped-def]
    body = {
        "instances": [{"image": {"b64": b64(upload)}}],
        "parameters": {"overlay": False, "targets": targets, **parameters},
    }
    return client.post(f"/v1/models/{model_id}:explain", json=body)


@pytest.mark.parametrize(
    "parameters",
    [
        {"method": "saliency"},
        {"method": "integrated-gradients", "steps": 4},
        {"method": "occlusion", "occlusion_window": 8, "occlusion_stride": 8},
        {"method": "gradcam", "aug_smooth": True},
    ],
)
def test_the_method_branches_explain_a_region_and_a_box(client, upload, parameters):
    mask = png_mask(SIDE, SIDE, (8, 8, 24, 24))
    region = explain_with(
        client, "seg", upload, [{"class": 2, "mask": {"b64": mask}}], **parameters
    )
    assert region.status_code == 200, region.text
    (target,) = region.json()["explanations"][0]["targets"]
    assert (target["kind"], target["target"], target["region_pixels"]) == ("region", 2, 16)
    assert np.isfinite(np.asarray(target["heatmap"])).all()
    predicted = explain(client, "det", upload).json()["explanations"][0]["targets"][0]["box"]
    box = explain_with(client, "det", upload, [{"class": 1, "box": predicted}], **parameters)
    assert box.status_code == 200, box.text
    (target,) = box.json()["explanations"][0]["targets"]
    assert target["kind"] == "box"
    assert target["iou"] == pytest.approx(1.0, abs=1e-3)
    assert np.isfinite(np.asarray(target["heatmap"])).all()


def test_finercam_on_a_segmentation_head_is_a_422_saying_why(client, upload):
    response = explain_with(client, "seg", upload, [2], method="finercam")
    assert "compares a classifier's classes" in problem(response, "invalid-input")
