"""Hot versions in a real server process (`python -m app`, GRADCAM_POLL_SECONDS=0.5):
a client that never pauses sees no failed request while version 2 is published and
version 1 removed, then a broken version 3 leaves 2 serving and reports its error.

Every wait is on a condition with a deadline; the process is killed at the end.
"""

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import b64
from tests.live_server import free_port, shape_sample, wait_until_ready
from tests.registry.versions.versioned import ROOT, publish, versioned_shapes

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

POLL_SECONDS = "0.5"
DEADLINE = 120.0  # seconds: a poll or two plus loading and warming one small model


@contextmanager
def server(models_dir: Path, log_dir: Path) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "GRADCAM_MODELS_DIR": str(models_dir),
        "GRADCAM_PORT": str(port),
        "GRADCAM_HOST": "127.0.0.1",
        "GRADCAM_DEVICE": "/CPU:0",
        "GRADCAM_POLL_SECONDS": POLL_SECONDS,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }
    log = (log_dir / "server.log").open("w+b")
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=log_dir, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


class SteadyClient:
    """Sends explain requests one after another until stopped; records every answer."""

    def __init__(self, url: str) -> None:
        png, _ = shape_sample(seed=3)
        self.body = {"instances": [{"image": {"b64": b64(png)}}], "parameters": {"overlay": False}}
        self.url = url
        self.answers: list[tuple[int, str | None]] = []  # (status, model_version)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                try:
                    response = client.post("/v1/models/shapes:explain", json=self.body)
                    version = response.json().get("model_version")
                    self.answers.append((response.status_code, version))
                except (httpx.HTTPError, ValueError) as exc:
                    self.answers.append((0, repr(exc)))

    def versions(self) -> list[str | None]:
        return [version for _, version in list(self.answers)]


def wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_versions_swap_under_load_without_a_failed_request(tmp_path):
    models = tmp_path / "models"
    folder = versioned_shapes(models, (1,))
    with server(models, tmp_path) as url:
        client = SteadyClient(url)
        client.thread.start()
        try:
            wait_for(lambda: client.versions().count("1") >= 5, "answers from version 1")
            publish(folder, 2)
            shutil.rmtree(folder / "1")
            wait_for(lambda: client.versions().count("2") >= 5, "answers from version 2")
            broken = publish(folder, 3, model=b"half a model")
            wait_for(lambda: version_state(url, "3") == "END", "version 3 to fail")
            seen_after_3 = len(client.answers)
            wait_for(lambda: len(client.answers) >= seen_after_3 + 5, "answers after 3 failed")
        finally:
            client.stop.set()
            client.thread.join(timeout=60)
        detail = httpx.get(f"{url}/v1/models/shapes").json()
    failed = [answer for answer in client.answers if answer[0] != 200]
    assert not failed, failed[:5]
    versions = client.versions()
    switch = versions.index("2")
    assert set(versions[:switch]) == {"1"} and set(versions[switch:]) == {"2"}
    assert detail["model_version"] == "2"
    status = {s["version"]: s for s in detail["model_version_status"]}
    assert "cannot load model.keras" in status["3"]["status"]["error_message"]
    assert set(status) == {"2", "3"}  # 1 is unloaded
    assert broken.is_dir()


def version_state(url: str, version: str) -> str | None:
    detail = httpx.get(f"{url}/v1/models/shapes", timeout=10).json()
    states = {s["version"]: s["state"] for s in detail.get("model_version_status", [])}
    return states.get(version)
