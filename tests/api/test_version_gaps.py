"""Two versions queueing side by side are two queue-depth series, and a card that turns
unreadable while its model serves is reported while the loaded card serves on (polls
driven one at a time on the app's loop; every wait has a deadline)."""

import asyncio
import shutil
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.engine.runtime.batching import BatchOptions
from app.main import create_app
from app.registry.watcher import FolderWatcher
from app.settings import Settings
from tests.api.test_versions_api import explain, metric_lines, served_repo
from tests.registry.versions.versioned import SHAPES, publish

DEADLINE = 30.0  # seconds


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


class HeldGradCam:
    """A version's compiled Grad-CAM whose calls wait for the test's gate to open."""

    def __init__(self, gradcam, gate: threading.Event) -> None:
        self.gradcam = gradcam
        self.gate = gate
        self.started = threading.Event()

    def __getattr__(self, name):
        return getattr(self.gradcam, name)

    def explain(self, *args, **kwargs):
        self.started.set()
        assert self.gate.wait(timeout=DEADLINE), "the test never opened the gate"
        return self.gradcam.explain(*args, **kwargs)


@pytest.fixture
def one_worker_repo(tmp_path) -> Iterator[tuple[TestClient, FolderWatcher]]:
    """One worker per batcher: a second request waits in the queue while one computes."""
    with served_repo(tmp_path, engine_workers=1) as served:
        yield served


def test_two_versions_queueing_are_two_depth_series(one_worker_repo):
    client, _ = one_worker_repo
    registry, batchers = client.app.state.registry, client.app.state.batchers
    gate = threading.Event()
    held = {v: HeldGradCam(registry.get("shapes", v).default_gradcam(), gate) for v in "12"}
    pixels = np.zeros((1, 64, 64, 3), np.float32)
    tasks = []

    async def send(version: str) -> None:
        batcher = batchers.for_version(registry.get("shapes", version))
        job = batcher.explain(held[version], pixels, None, BatchOptions(), timeout=DEADLINE)
        tasks.append(asyncio.ensure_future(job))

    try:
        for version in "12":  # one request computing on each version
            client.portal.call(send, version)
            wait_for(held[version].started.is_set, f"version {version} to compute")
        client.portal.call(send, "1")  # then queued: two on version 1, one on version 2
        client.portal.call(send, "1")
        client.portal.call(send, "2")
        depths = metric_lines(client, "gradcam_queue_depth")
        assert 'gradcam_queue_depth{model="shapes",version="1"} 2.0' in depths
        assert 'gradcam_queue_depth{model="shapes",version="2"} 1.0' in depths
    finally:
        gate.set()

    async def answers() -> list[object]:
        return await asyncio.gather(*tasks)

    assert len(client.portal.call(answers)) == 5
    depths = metric_lines(client, "gradcam_queue_depth")
    assert len(depths) == 2 and all(line.endswith(" 0.0") for line in depths)


@pytest.fixture
def own_repo(tmp_path) -> Iterator[tuple[TestClient, FolderWatcher]]:
    with served_repo(tmp_path) as served:
        yield served


def card_error(client: TestClient) -> str | None:
    return client.get("/v1/models/shapes").json().get("card_error")


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        ("id = 'shapes'\ntask = [unclosed\n", "cannot be read"),  # not TOML
        ("id = 'shapes'\ntask = 'audio'\n", "task"),  # TOML, but a field the card refuses
    ],
)
def test_an_unreadable_card_is_reported_and_the_loaded_one_serves_on(
    own_repo, shape_png, broken, reason
):
    client, watcher = own_repo
    folder = client.app.state.settings.models_dir / "shapes"
    card = (folder / "model.toml").read_text()
    client.portal.call(watcher.poll)
    assert card_error(client) is None
    assert metric_lines(client, "gradcam_model_card_error") == []

    (folder / "model.toml").write_text(broken)
    publish(folder, 3)  # not loaded while the card cannot be read
    for _ in range(2):  # a new version loads on its second poll
        client.portal.call(watcher.poll)
    detail = client.get("/v1/models/shapes").json()
    assert reason in detail["card_error"] and "model.toml" in detail["card_error"]
    assert detail["card"]["task"] == "image" and detail["model_version"] == "2"
    assert metric_lines(client, "gradcam_model_card_error") == [
        'gradcam_model_card_error{model="shapes"} 1.0'
    ]
    answer = explain(client, "/v1/models/shapes:explain", shape_png)
    assert answer.status_code == 200 and answer.json()["model_version"] == "2"

    (folder / "model.toml").write_text(card)
    for _ in range(2):  # version 3 is seen once the card reads, and loads a poll later
        client.portal.call(watcher.poll)
    assert card_error(client) is None
    assert metric_lines(client, "gradcam_model_card_error") == []
    assert explain(client, "/v1/models/shapes:explain", shape_png).json()["model_version"] == "3"


def test_an_unreadable_flat_card_is_reported_too(tmp_path, shape_png):
    """The flat layout (card and model file side by side): the same report."""
    shutil.copytree(SHAPES, tmp_path / "shapes")
    settings = Settings(models_dir=tmp_path, poll_seconds=0, _env_file=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        watcher = FolderWatcher(client.app.state.registry, tmp_path, warm_up=True)
        card = tmp_path / "shapes" / "model.toml"
        text = card.read_text()
        card.write_text(text.replace('task = "image"', 'task = "sound"'))
        client.portal.call(watcher.poll)
        assert "task" in card_error(client)
        assert explain(client, "/v1/models/shapes:explain", shape_png).status_code == 200
        card.write_text(text)
        client.portal.call(watcher.poll)
        assert card_error(client) is None
