"""GET /metrics, zero retraces after warm-up, and device placement from settings."""

import os
import shutil
import subprocess
import sys

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app import pipeline
from app.errors import ModelError
from app.main import create_app
from app.pipeline import configure_engine, default_batch_size, default_workers
from app.settings import Settings
from tests.api.conftest import MODELS_DIR


def samples(client) -> dict[tuple[str, tuple], float]:
    text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(found, name, **labels):
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_count_requests_by_model_route_and_status(client, shape_png):
    route = "/v1/models/{model_id}:explain"
    before = samples(client)
    client.post(
        "/v1/models/shapes:explain", content=shape_png, headers={"content-type": "image/png"}
    )
    client.post("/v1/models/shapes:explain", json={"instances": []})
    client.post("/v1/models/made-up:explain", json={"instances": []})
    after = samples(client)
    for status, model in (("200", "shapes"), ("422", "shapes"), ("404", "unknown")):
        labels = {"model": model, "route": route, "status": status}
        assert (
            value(after, "gradcam_requests_total", **labels)
            == value(before, "gradcam_requests_total", **labels) + 1
        )
        assert value(after, "gradcam_request_seconds_count", **labels) >= 1
    for stage in ("decode", "queue_wait", "compute", "render"):
        assert value(after, "gradcam_stage_seconds_count", model="shapes", stage=stage) >= 1
    assert value(after, "gradcam_batch_size_count", model="shapes") >= 1
    assert ("gradcam_queue_depth", (("model", "shapes"), ("version", "1"))) in after
    assert value(after, "gradcam_model_load_seconds", model="efficientnet_lite0") > 0
    assert value(after, "gradcam_model_device", model="shapes", device="/CPU:0") == 1


def test_no_retrace_after_warm_up_across_targets_batches_and_options(client, shape_images):
    from tests.api.conftest import b64, encode

    images = [b64(encode(image)) for image in shape_images[0]]
    first = samples(client)
    before = value(first, "gradcam_traces", model="shapes")
    # The session's client may have compiled other methods already: compare, not count.
    before_text = value(first, "gradcam_traces", model="keywords")
    process = value(first, "gradcam_process_traces_total")
    assert before >= 1 and before_text >= 1 and process >= before + before_text
    for count, parameters in [
        (1, {}),
        (3, {"targets": [0, 1, 2, 3]}),
        (2, {"relu": False, "counterfactual": True, "score": "output"}),
        (4, {"targets": [3], "score": "logit", "alpha_limit": 0.3}),
    ]:
        body = {
            "instances": [{"image": {"b64": b}} for b in images[:count]],
            "parameters": parameters,
        }
        assert client.post("/v1/models/shapes:explain", json=body).status_code == 200
    text = {"instances": [{"text": "goal"}, {"text": "storm piano"}], "parameters": {"relu": False}}
    assert client.post("/v1/models/keywords:explain", json=text).status_code == 200
    after = samples(client)
    assert value(after, "gradcam_traces", model="shapes") == before
    assert value(after, "gradcam_traces", model="keywords") == before_text
    assert value(after, "gradcam_process_traces_total") == process


@pytest.fixture
def keywords_only(tmp_path):
    shutil.copytree(MODELS_DIR / "keywords", tmp_path / "keywords")
    return tmp_path


def test_device_forced_through_settings(keywords_only):
    app = create_app(Settings(models_dir=keywords_only, device="/CPU:0", _env_file=None))
    with TestClient(app) as client:
        assert client.get("/v1/models/keywords").json()["device"] == "/CPU:0"
        served = app.state.registry.get("keywords")
        assert served.default_gradcam().device == "/CPU:0"
        response = client.post(
            "/v1/models/keywords:explain", json={"instances": [{"text": "goal"}]}
        )
        assert response.status_code == 200


def test_unavailable_device_fails_start_up(keywords_only):
    app = create_app(Settings(models_dir=keywords_only, device="/GPU:7", _env_file=None))
    with pytest.raises(ModelError, match="device /GPU:7 is not available"), TestClient(app):
        pass


def test_malformed_device_setting_is_refused():
    with pytest.raises(ValueError, match="device"):
        Settings(device="gpu please", _env_file=None)


def test_engine_workers_and_overload_bound_from_settings(keywords_only):
    for settings, workers, overload in [
        ({}, 2, 4),
        ({"engine_workers": 3, "overload_queue": 2}, 3, 2),
    ]:
        app = create_app(Settings(models_dir=keywords_only, _env_file=None, **settings))
        with TestClient(app):
            batcher = app.state.batchers["keywords"]
            assert batcher.workers == workers
            assert batcher.admission.overload_queue == overload
    assert (default_workers("/CPU:0"), default_workers("/GPU:0")) == (2, 1)
    assert (default_batch_size("/CPU:0"), default_batch_size("/GPU:0")) == (8, 32)


def test_threads_per_op_default_to_half_the_cpus_and_leave_gpus_alone(monkeypatch):
    asked = []
    monkeypatch.setattr(pipeline, "configure_devices", asked.append)
    monkeypatch.setattr(pipeline, "cpu_count", lambda: 8)
    configure_engine(Settings(device="/CPU:0", _env_file=None))
    configure_engine(Settings(device="/CPU:0", intra_op_threads=3, _env_file=None))
    configure_engine(Settings(device="/GPU:0", _env_file=None))
    assert asked == [4, 3, None]


def test_threads_per_op_reach_tensorflow_in_a_fresh_process():
    code = (
        "from app.pipeline import configure_engine; from app.settings import Settings; "
        "import tensorflow as tf; "
        "configure_engine(Settings(device='/CPU:0', intra_op_threads=1, _env_file=None)); "
        "tf.constant(1.0) + 1; "  # TensorFlow starts with the setting
        "print(tf.config.threading.get_intra_op_parallelism_threads())"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    )
    assert result.stdout.strip().splitlines()[-1] == "1"
