"""Remote models: a second instance of this service is the predictor (its TF Serving
REST `:predict`); a fake one fails in the ways a real one cannot be made to."""

from __future__ import annotations

import io
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.settings import Settings
from tests.api.conftest import b64
from tests.live_server import live_server
from tests.remote_fake import FakeState, fake_remote
from training.evaluate_shapes import hits
from training.shapes_data import make_shapes

pytestmark = pytest.mark.slow  # a second server process starts (TensorFlow, ~20 s)

ROOT = Path(__file__).resolve().parents[2]
SHAPES_IMAGE = '[image]\nsize = [64, 64]\nscaling = "unit"\n'


def write_card(
    models: Path, model_id: str, remote: str, extra: str = "", image: str = SHAPES_IMAGE
) -> None:
    folder = models / model_id
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "models" / "shapes" / "labels.txt", folder / "labels.txt")
    (folder / "model.toml").write_text(
        f'id = "{model_id}"\ntask = "image"\nremote = "{remote}"\n'
        f'labels_file = "labels.txt"\nrequired = false\n{extra}\n{image}'
    )


@pytest.fixture(scope="module")
def predictor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with live_server(tmp_path_factory.mktemp("predictor")) as url:
        yield url


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, FakeState, object]]:
    with fake_remote() as served:
        yield served


@pytest.fixture(scope="module")
def client(predictor, fake, tmp_path_factory) -> Iterator[TestClient]:
    models = tmp_path_factory.mktemp("explainer") / "models"
    shutil.copytree(ROOT / "models" / "shapes", models / "shapes")
    write_card(models, "remote_b64", f"{predictor}/v1/models/shapes")
    # JSON arrays of 64x64x3 floats: 4 per call stay under the predictor's 1 MB body limit.
    array = 'remote_input = "array"\nremote_batch = 4'
    write_card(models, "remote_array", f"{predictor}/v1/models/shapes", array)
    # Only `remote` and `labels_file`: the size comes from the predictor's /metadata.
    write_card(models, "remote_bare", f"{predictor}/v1/models/shapes", image="")
    write_card(models, "remote_bare_array", f"{predictor}/v1/models/shapes", array, image="")
    write_card(
        models,
        "flaky",
        f"{fake[0]}/v1/models/flaky",
        "remote_timeout = 1.0\nremote_retries = 2\nremote_batch = 8",
    )
    app = create_app(Settings(models_dir=models, _env_file=None))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def explain(client: TestClient, model: str, image: bytes, **parameters: object) -> httpx.Response:
    body = {"instances": [{"image": {"b64": b64(image)}}], "parameters": parameters}
    return client.post(f"/v1/models/{model}:explain", json=body)


def heatmap(response: httpx.Response) -> np.ndarray:
    assert response.status_code == 200, response.text
    return np.array(response.json()["explanations"][0]["targets"][0]["heatmap"])


def test_the_model_shows_its_remote(client, predictor):
    detail = client.get("/v1/models/remote_b64").json()
    assert detail["remote"]["url"] == f"{predictor}/v1/models/shapes"
    assert detail["remote"]["ready"] is True and detail["ready"] is True
    assert detail["methods"] == ["occlusion", "rise"]
    assert detail["n_classes"] == 4 and detail["score"] == "output"


def test_the_predictor_answers_tf_serving_metadata(predictor):
    """This service's own GET .../metadata, TF Serving's GetModelMetadata as JSON."""
    answer = httpx.get(f"{predictor}/v1/models/shapes/metadata").json()
    assert answer["model_spec"]["name"] == "shapes"
    signature = answer["metadata"]["signature_def"]["signature_def"]["serving_default"]
    (key,) = signature["inputs"]
    tensor = signature["inputs"][key]
    assert tensor["dtype"] == "DT_FLOAT"
    assert [dim["size"] for dim in tensor["tensor_shape"]["dim"]] == ["-1", "64", "64", "3"]
    (output,) = signature["outputs"].values()
    assert [dim["size"] for dim in output["tensor_shape"]["dim"]] == ["-1", "4"]


SIZED = {"remote_bare": "remote_b64", "remote_bare_array": "remote_array"}  # [image] size given


@pytest.mark.parametrize("model", list(SIZED))
def test_a_card_without_a_size_takes_the_predictors(client, model):
    detail = client.get(f"/v1/models/{model}").json()
    assert detail["ready"] is True, detail
    assert detail["input_shape"] == [None, 64, 64, 3]
    assert detail["card"]["image"]["size"] == [64, 64]  # read from the metadata
    assert detail["remote"]["input_key"] == ("pixels" if "array" in model else None)
    image = png(make_shapes(1, 11)[0][0])
    options = {"occlusion_window": 16, "targets": [0]}
    bare = heatmap(explain(client, model, image, **options))
    sized = heatmap(explain(client, SIZED[model], image, **options))
    np.testing.assert_allclose(bare, sized, atol=1e-6)


def test_a_gradient_method_is_a_422_saying_why(client):
    image = png(make_shapes(1, 7)[0][0])
    response = explain(client, "remote_b64", image, method="gradcam")
    assert response.status_code == 422
    assert "remote endpoint" in response.json()["detail"]
    assert "occlusion" in response.json()["detail"]


def test_its_predict_is_not_relayed(client, predictor):
    body = {"instances": [{"b64": b64(png(make_shapes(1, 7)[0][0]))}]}
    response = client.post("/v1/models/remote_b64:predict", json=body)
    assert response.status_code == 422, response.text
    assert f"{predictor}/v1/models/shapes" in response.json()["detail"]


def test_occlusion_equals_the_predictors_answers(client, predictor):
    """The map by its definition, from the predictor's own answers to the same PNGs."""
    images, labels, _ = make_shapes(1, 8)
    image, target = images[0], int(labels[0])
    window = 16
    occluded = [image]
    corners = [(top, left) for top in range(0, 64, window) for left in range(0, 64, window)]
    for top, left in corners:
        copy = image.copy()
        copy[top : top + window, left : left + window] = 0
        occluded.append(copy)
    instances = [{"b64": b64(png(item))} for item in occluded]
    answer = httpx.post(f"{predictor}/v1/models/shapes:predict", json={"instances": instances})
    scores = np.array(answer.json()["predictions"])[:, target]
    expected = np.zeros((64, 64))
    for (top, left), score in zip(corners, scores[1:], strict=True):
        expected[top : top + window, left : left + window] = scores[0] - score
    expected = np.maximum(expected, 0) / (np.abs(expected).max() + 1e-7)
    got = heatmap(
        explain(
            client,
            "remote_b64",
            png(image),
            targets=[target],
            occlusion_window=window,
            occlusion_stride=window,
        )
    )
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_array_input_gives_the_local_models_map(client):
    """`array` sends the card's scaled tensor: the local model, score output, agrees."""
    image = png(make_shapes(1, 9)[0][0])
    options = {"occlusion_window": 16, "occlusion_stride": 8, "targets": [1]}
    remote = heatmap(explain(client, "remote_array", image, **options))
    local = heatmap(explain(client, "shapes", image, method="occlusion", score="output", **options))
    np.testing.assert_allclose(remote, local, atol=1e-4)


METRICS = ["deletion", "insertion", "drop", "increase"]


@pytest.mark.parametrize("model", ["remote_array", "remote_b64"])
def test_metrics_equal_the_local_models(client, model):
    """Deletion, insertion, drop and increase scored through the remote's :predict
    equal the same metrics of the local model (score output) it serves."""
    images, labels, _ = make_shapes(1, 21)
    image, label = png(images[0]), int(labels[0])
    options = {"occlusion_window": 16, "targets": [label], "metrics": METRICS, "metric_steps": 8}
    remote = explain(client, model, image, **options)
    local = explain(client, "shapes", image, method="occlusion", score="output", **options)
    assert remote.status_code == 200 and local.status_code == 200, remote.text + local.text
    got = remote.json()["explanations"][0]["targets"][0]["metrics"]
    expected = local.json()["explanations"][0]["targets"][0]["metrics"]
    assert set(got) == set(METRICS)
    # b64 sends PNGs: "drop" and "increase" score the image times the map, whose pixels
    # PNG rounds to 8 bits; the curves' images (pixels kept or blacked out) are exact.
    exact = METRICS if model == "remote_array" else ["deletion", "insertion"]
    for name in exact:
        assert got[name] == pytest.approx(expected[name], abs=1e-5), name


def test_tensor_instances_on_a_remote_model(client):
    """KServe V1 tensors (the scaled image as nested lists) explain as their image."""
    pixels = make_shapes(1, 12)[0][0]
    tensor = (pixels.astype(np.float32) / np.float32(255.0)).tolist()
    options = {"occlusion_window": 16, "targets": [1]}
    expected = heatmap(explain(client, "remote_array", png(pixels), **options))
    for instance in (tensor, {"pixels": tensor}):
        body = {"instances": [instance], "parameters": options}
        got = heatmap(client.post("/v1/models/remote_array:explain", json=body))
        np.testing.assert_allclose(got, expected, atol=1e-5)
    body = {"instances": [np.zeros((64, 32, 3)).tolist()], "parameters": options}
    response = client.post("/v1/models/remote_array:explain", json=body)
    assert response.status_code == 422, response.text
    assert "[64, 32, 3]" in response.json()["detail"]
    assert "[64, 64, 3]" in response.json()["detail"]


def test_an_audit_of_a_remote_model_runs_its_black_box_checks(client):
    """Pointing and deletion with occlusion through the remote: the job ends done; the
    randomisation check, which needs weights, is a 422 at submit naming why."""
    images, labels, boxes = make_shapes(3, seed=4040)
    instances = [
        {"image": {"b64": b64(png(image))}, "label": int(label), "box": [int(v) for v in box]}
        for image, label, box in zip(images, labels, boxes, strict=True)
    ]
    parameters = {"methods": ["occlusion"], "checks": ["pointing", "deletion"]}
    body = {"instances": instances, "parameters": parameters}
    accepted = client.post("/v1/models/remote_b64:audit", json=body)
    assert accepted.status_code == 202, accepted.text
    job = client.get(accepted.headers["location"]).json()
    for _ in range(600):
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.1)
        job = client.get(accepted.headers["location"]).json()
    assert job["status"] == "done", job
    occlusion = job["result"]["methods"]["occlusion"]
    assert 0 <= occlusion["pointing"] <= 1 and 0 <= occlusion["deletion"] <= 1
    body["parameters"] = {"methods": ["occlusion"], "checks": ["randomization"]}
    refused = client.post("/v1/models/remote_b64:audit", json=body)
    assert refused.status_code == 422
    assert "remote endpoint" in refused.json()["detail"]


def test_rise_points_at_the_shape(client):
    images, labels, boxes = make_shapes(3, 4242)
    maps = np.stack(
        [
            heatmap(
                explain(
                    client,
                    "remote_b64",
                    png(image),
                    method="rise",
                    rise_masks=256,
                    targets=[int(label)],
                )
            )
            for image, label in zip(images, labels, strict=True)
        ]
    )
    assert hits(maps, boxes).mean() >= 2 / 3


FAILURES = [
    ("not-json", 502, "not JSON"),
    ("wrong-count", 502, "no list of"),
    ("nan", 502, "finite"),
    ("status-500", 502, "500"),
    ("status-503", 502, "503"),
    ("slow", 504, "did not answer within 1 s"),
]


@pytest.mark.parametrize(("mode", "status", "said"), FAILURES)
def test_a_failing_remote_is_a_502_or_504(client, fake, mode, status, said):
    url, state, _ = fake
    state.mode, state.predicts = mode, 0
    try:
        response = explain(client, "flaky", png(make_shapes(1, 3)[0][0]), occlusion_window=32)
    finally:
        state.mode = "good"
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert url in problem["detail"] and said in problem["detail"]
    kind = "remote-model-timeout" if status == 504 else "remote-model-failed"
    assert problem["type"] == f"/problems/{kind}"
    if mode == "status-503":
        assert state.predicts == 3  # one try and remote_retries = 2 retries


def test_calls_are_batched(client, fake):
    _, state, _ = fake
    state.sizes.clear()
    response = explain(
        client, "flaky", png(make_shapes(1, 3)[0][0]), occlusion_window=16, occlusion_stride=8
    )
    assert response.status_code == 200, response.text
    # 1 image, then 7 x 7 = 49 windows in calls of at most remote_batch = 8 (in flight
    # together, so in any order)
    assert sorted(state.sizes) == [1, 1, 8, 8, 8, 8, 8, 8]


def test_a_stopped_remote_is_a_502_and_not_ready(predictor, tmp_path):
    """On an app of its own: the module's fake remote must keep serving the other tests,
    whatever their order."""
    models = tmp_path / "models"
    write_card(models, "remote_b64", f"{predictor}/v1/models/shapes")
    with fake_remote() as (url, _, server):
        write_card(models, "gone", f"{url}/v1/models/gone", "remote_timeout = 1.0")
        app = create_app(Settings(models_dir=models, _env_file=None))
        with TestClient(app, raise_server_exceptions=False) as client:
            server.shutdown()
            server.server_close()
            response = explain(client, "gone", png(make_shapes(1, 3)[0][0]), occlusion_window=32)
            assert response.status_code == 502, response.text
            detail = response.json()["detail"]
            assert "unreachable" in detail and url in detail
            assert client.get("/v2/health/ready").status_code == 503
            other = client.get("/v1/models/remote_b64").json()  # the other remote answers
            assert other["remote"]["ready"] is True
            assert client.get("/v2/models/gone/ready").status_code == 503
