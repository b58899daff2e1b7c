"""Audits through the HTTP API, with the app's lifespan running on the shapes model:
202 + Location, the job's life (progress, done, report, verdict on the model), cancel,
the limits (429 + Retry-After, 413), unknown jobs (404) and bad instances (422, named)."""

import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from training.shapes_data import make_shapes

from .conftest import b64, encode

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
DEADLINE = 120.0


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(MODELS_DIR / "shapes", root / "shapes")
    settings = Settings(
        models_dir=root,
        jobs_max_running=1,
        jobs_max_queued=1,
        audit_max_instances=12,
        _env_file=None,
    )
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def instances():
    from PIL import Image

    images, labels, boxes = make_shapes(6, seed=31337)
    return [
        {
            "image": {"b64": b64(encode(Image.fromarray(image)))},
            "label": int(label),
            "box": [int(v) for v in box],
            "name": f"scene{index}",
        }
        for index, (image, label, box) in enumerate(zip(images, labels, boxes, strict=True))
    ]


def wait_for(client, path, statuses):
    end = time.monotonic() + DEADLINE
    while True:
        job = client.get(path).json()
        if job["status"] in statuses:
            return job
        assert time.monotonic() < end, f"job still {job['status']}"
        time.sleep(0.05)


def end_all(client, *paths):
    for path in paths:
        client.delete(path)
    for path in paths:
        wait_for(client, path, ("done", "failed", "cancelled"))


@pytest.mark.slow
def test_an_audit_runs_to_its_report_and_verdict(client, instances):
    body = {
        "instances": instances,
        "parameters": {
            "methods": ["gradcam", "eigencam"],
            "checks": ["pointing", "energy-pointing", "randomization"],
        },
    }
    answer = client.post("/v1/models/shapes:audit", json=body)
    assert answer.status_code == 202, answer.text
    location = answer.headers["location"]
    assert answer.json() == {"job": location} and location.startswith("/v1/jobs/")
    job = wait_for(client, location, ("done", "failed"))
    assert job["status"] == "done", job["error"]
    assert job["progress"]["done"] == job["progress"]["total"] > 0
    result = job["result"]
    assert result["instances"] == 6 and 0 <= result["accuracy"] <= 1
    for method in ("gradcam", "eigencam"):
        scores = result["methods"][method]
        assert 0 <= scores["pointing"] <= 1 and 0 <= scores["energy_pointing"] <= 1
        assert scores["deletion"] is None  # not asked for
        assert scores["randomization"]["steps"][0]["layer"] == "class_scores"
    report = client.get(job["report"])
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
    assert "<svg" in report.text and "data:image/png;base64," in report.text
    model = client.get("/v1/models/shapes").json()
    for method in ("gradcam", "eigencam"):
        verdict = model["randomization"][method]
        assert verdict["job"] == job["id"]
        assert verdict["passed"] == (result["methods"][method]["randomization"]["passed"])


@pytest.mark.slow
def test_full_is_429_a_queued_job_cancels_and_has_no_report(client, instances):
    slow = {
        "instances": instances * 2,
        "parameters": {
            "methods": ["gradcam", "gradcam++", "layercam"],
            "checks": ["randomization"],
        },
    }
    first = client.post("/v1/models/shapes:audit", json=slow).headers["location"]
    second = client.post("/v1/models/shapes:audit", json=slow).headers["location"]
    refused = client.post("/v1/models/shapes:audit", json=slow)
    assert refused.status_code == 429, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) > 0
    assert client.get(second).json()["status"] == "queued"
    unfinished = client.get(f"{second}/report")
    assert unfinished.status_code == 409
    assert client.delete(second).status_code == 200
    assert wait_for(client, second, ("cancelled",))["result"] is None
    assert client.delete(first).status_code == 200  # running: stops at its next chunk
    wait_for(client, first, ("cancelled", "done"))


def test_unknown_job_is_404(client):
    for answer in (
        client.get("/v1/jobs/nope"),
        client.delete("/v1/jobs/nope"),
        client.get("/v1/jobs/nope/report"),
    ):
        assert answer.status_code == 404
        assert answer.json()["type"].endswith("/job-not-found")


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"label": 7}, 422, "instances[2].label 7 is out of range"),
        ({"box": [50, 50, 10, 10]}, 422, "instances[2].box"),
        ({"box": None, "mask": {"b64": b64(b"nope")}}, 422, "instances[2].mask is not a PNG"),
        ({"image": {"b64": "***"}}, 400, "instances[2].image.b64 is not valid base64"),
        ({"box": [1, 2, 3]}, 422, "box"),
    ],
)
def test_bad_instances_are_named(client, instances, change, status, words):
    given = [dict(item) for item in instances[:3]]
    given[2] = {k: v for k, v in {**given[2], **change}.items() if v is not None}
    answer = client.post("/v1/models/shapes:audit", json={"instances": given})
    assert answer.status_code == status, answer.text
    assert words in answer.text


def test_over_the_instance_limit_is_413_and_text_checks_on_images_422(client, instances):
    answer = client.post("/v1/models/shapes:audit", json={"instances": instances * 3})
    assert answer.status_code == 413 and "at most 12" in answer.json()["detail"]
    unknown = client.post("/v1/models/nope:audit", json={"instances": instances[:1]})
    assert unknown.status_code == 404
    bad_method = client.post(
        "/v1/models/shapes:audit",
        json={"instances": instances[:1], "parameters": {"methods": ["attention-rollout"]}},
    )
    assert bad_method.status_code == 422


@pytest.mark.slow
def test_shutdown_cancels_a_running_audit(tmp_path, instances):
    """The lifespan's end (what a drained server runs last) cancels running jobs and
    waits for their threads: the job ends cancelled, not cut off."""
    shutil.copytree(MODELS_DIR / "shapes", tmp_path / "shapes")
    app = create_app(Settings(models_dir=tmp_path, _env_file=None))
    body = {
        "instances": instances * 2,
        "parameters": {"methods": ["gradcam", "layercam"], "checks": ["randomization"]},
    }
    with TestClient(app) as client:
        location = client.post("/v1/models/shapes:audit", json=body).headers["location"]
        wait_for(client, location, ("running",))
        job = app.state.jobs.get(location.rsplit("/", 1)[-1])
    assert job.status == "cancelled" and job.cancel_requested.is_set()
    assert job.task is not None and job.task.done()
