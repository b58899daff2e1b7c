"""Version routes on TF Serving's layout: which version answers, their status, readiness,
metrics, and one batcher per version (polls driven one at a time on the app's loop)."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.registry.watcher import FolderWatcher
from app.settings import Settings
from tests.api.conftest import b64
from tests.registry.versions.versioned import publish, versioned_shapes


@contextmanager
def served_repo(models: Path, **options: object) -> Iterator[tuple[TestClient, FolderWatcher]]:
    """Versions 1 and 2 of shapes (latest:2), polled only when a test calls the watcher;
    `options` are more settings."""
    versioned_shapes(models, (1, 2), extra='version_policy = "latest:2"')
    settings = Settings(models_dir=models, poll_seconds=0, _env_file=None, **options)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        registry = client.app.state.registry
        yield client, FolderWatcher(registry, models, warm_up=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Iterator[tuple[TestClient, FolderWatcher]]:
    """Shared by the tests that only read it (they run in any order)."""
    with served_repo(tmp_path_factory.mktemp("repo")) as served:
        yield served


@pytest.fixture
def own_repo(tmp_path) -> Iterator[tuple[TestClient, FolderWatcher]]:
    """For a test that publishes versions: a repository of its own."""
    with served_repo(tmp_path) as served:
        yield served


def explain(client, path, shape_png):
    body = {"instances": [{"image": {"b64": b64(shape_png)}}], "parameters": {"overlay": False}}
    return client.post(path, json=body)


def test_the_highest_version_serves_and_each_is_reachable(repo, shape_png):
    client, _ = repo
    default = explain(client, "/v1/models/shapes:explain", shape_png)
    first = explain(client, "/v1/models/shapes/versions/1:explain", shape_png)
    assert default.json()["model_version"] == "2" and default.headers["x-model-version"] == "2"
    assert first.json()["model_version"] == "1" and first.headers["x-model-version"] == "1"
    assert first.json()["predictions"] == default.json()["predictions"]  # the same file


def test_model_detail_lists_every_version(repo):
    client, _ = repo
    detail = client.get("/v1/models/shapes").json()
    assert detail["version"] == detail["model_version"] == "2"
    status = [(s["version"], s["state"], s["serving"]) for s in detail["model_version_status"]]
    assert status == [("2", "AVAILABLE", True), ("1", "AVAILABLE", False)]
    assert client.get("/v1/models/shapes/versions/1").json()["model_version"] == "1"
    listed = client.get("/v1/models").json()["models"]
    assert [(m["id"], m["version"]) for m in listed] == [("shapes", "2")]


def test_unknown_versions_are_404_problems(repo, shape_png):
    client, _ = repo
    for response in (
        client.get("/v1/models/shapes/versions/7"),
        explain(client, "/v1/models/shapes/versions/7:explain", shape_png),
        client.get("/v2/models/shapes/versions/7/ready"),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "no version '7' loaded (loaded: 1, 2)" in response.json()["detail"]


def test_readiness_per_version(repo):
    client, _ = repo
    assert client.get("/v2/models/shapes/versions/1/ready").json() == {
        "name": "shapes",
        "ready": True,
    }
    assert client.get("/v2/health/ready").status_code == 200


def test_versions_have_their_own_batchers(repo, shape_png):
    client, _ = repo
    registry, batchers = client.app.state.registry, client.app.state.batchers
    explain(client, "/v1/models/shapes/versions/1:explain", shape_png)
    one, two = registry.get("shapes", "1"), registry.get("shapes", "2")
    assert batchers.for_version(one) is not batchers.for_version(two)
    assert batchers["shapes"] is batchers.for_version(two)


def metric_lines(client, name):
    text = client.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith(name + "{")]


def test_metrics_show_the_versions(repo):
    client, _ = repo
    states = metric_lines(client, "gradcam_model_version_state")
    assert 'gradcam_model_version_state{model="shapes",state="AVAILABLE",version="2"} 1.0' in states
    serving = metric_lines(client, "gradcam_model_version_serving")
    assert serving == ['gradcam_model_version_serving{model="shapes",version="2"} 1.0']


def test_a_broken_version_is_reported_and_a_good_one_replaces_the_serving(own_repo, shape_png):
    client, watcher = own_repo
    folder = client.app.state.settings.models_dir / "shapes"
    publish(folder, 3, model=b"truncated")
    client.portal.call(watcher.poll)
    client.portal.call(watcher.poll)
    detail = client.get("/v1/models/shapes").json()
    assert detail["model_version"] == "2"  # the previous version keeps serving
    states = [(s["version"], s["state"]) for s in detail["model_version_status"]]
    assert states == [("3", "END"), ("2", "AVAILABLE")]  # latest:2 wants 3 and 2, not 1
    failed = detail["model_version_status"][0]
    assert (failed["version"], failed["state"]) == ("3", "END")
    assert failed["status"]["error_code"] == "UNKNOWN"
    assert "cannot load model.keras" in failed["status"]["error_message"]
    assert metric_lines(client, "gradcam_model_version_load_failed") == [
        'gradcam_model_version_load_failed{model="shapes",version="3"} 1.0'
    ]
    response = client.get("/v1/models/shapes/versions/3")
    assert response.status_code == 503 and re.search("version 3 .*cannot load", response.text)
    old = client.app.state.registry.get("shapes", "2")
    assert explain(client, "/v1/models/shapes:explain", shape_png).json()["model_version"] == "2"
    assert 'gradcam_queue_depth{model="shapes",version="2"} 0.0' in metric_lines(
        client, "gradcam_queue_depth"
    )
    publish(folder, 4)
    client.portal.call(watcher.poll)
    client.portal.call(watcher.poll)
    assert explain(client, "/v1/models/shapes:explain", shape_png).json()["model_version"] == "4"
    assert old not in client.app.state.batchers  # withdrawn (latest:2 wants 4 and 3): stopped
    depths = metric_lines(client, "gradcam_queue_depth")
    assert depths and not [line for line in depths if 'version="2"' in line]  # its series too
