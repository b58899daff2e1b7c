"""The container healthcheck script: healthy on 200 from readiness, else not."""

import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.deploy.conftest import ROOT, load_script

SCRIPT = ROOT / "deploy" / "docker" / "healthcheck.py"
READY_PATH = load_script("deploy/docker/healthcheck.py").READY_PATH


class StubService(BaseHTTPRequestHandler):
    """Answers the readiness path with the server's `ready_status`, anything else 404."""

    def do_GET(self) -> None:
        status = self.server.ready_status if self.path == READY_PATH else 404  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def stub() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def healthcheck(port: int) -> int:
    env = {**os.environ, "GRADCAM_PORT": str(port)}
    return subprocess.run([sys.executable, str(SCRIPT)], env=env, timeout=30).returncode


def test_ready_service_is_healthy(stub):
    stub.ready_status = 200
    assert healthcheck(stub.server_address[1]) == 0


def test_service_still_loading_is_unhealthy(stub):
    stub.ready_status = 503
    assert healthcheck(stub.server_address[1]) == 1


def test_nothing_listening_is_unhealthy(stub):
    port = stub.server_address[1]
    stub.shutdown()
    stub.server_close()
    assert healthcheck(port) == 1


def test_the_path_is_the_apps_readiness_route(app_paths):
    assert READY_PATH == "/v2/health/ready"
    assert READY_PATH in app_paths
