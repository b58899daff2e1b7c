"""A real `python -m app` (uvicorn) on 127.0.0.1: slow uploads, SIGTERM drain, start-up.

Behaviour that lives in the server process: the socket, the signal, the exit code.
Every wait is bounded; each process is killed at the end whatever happened.
"""

import asyncio
import http.client
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.hardening.conftest import KEYWORDS, add_tiny_model
from tests.live_server import free_port, wait_until_ready

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
KEY = "process-test-key-0123456789"
AUTH = {"x-api-key": KEY}
BODY = json.dumps({"instances": [{"text": "goal storm vasho"}]}).encode()


@contextmanager
def serving(
    models_dir: Path, tmp_path: Path, **settings: str
) -> Iterator[tuple[subprocess.Popen, int]]:
    port = free_port()
    env = os.environ | {
        "GRADCAM_MODELS_DIR": str(models_dir),
        "GRADCAM_HOST": "127.0.0.1",
        "GRADCAM_PORT": str(port),
        "GRADCAM_DEVICE": "/CPU:0",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
        **{f"GRADCAM_{name.upper()}": value for name, value in settings.items()},
    }
    log = (tmp_path / f"server-{port}.log").open("w+b")
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


OPENED: list[socket.socket] = []


@pytest.fixture(autouse=True)
def close_sockets() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().close()


def start_request(
    port: int, path: str, headers: dict[str, str], first_bytes: bytes
) -> socket.socket:
    """A request whose headers and first body bytes are sent; the rest is up to the test."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    OPENED.append(sock)
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers.items())]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + first_bytes)
    return sock


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock)
    response.begin()
    body = response.read()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, body


def send_until_answered(sock: socket.socket, piece: bytes, most: int) -> int:
    """Send `piece` again and again until the server answers (or `most` bytes went)."""
    sent = 0
    while sent < most and not select.select([sock], [], [], 0)[0]:
        try:
            sock.sendall(piece)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(piece)
    return sent


def is_closed(sock: socket.socket) -> bool:
    try:
        return sock.recv(1) == b""
    except (ConnectionResetError, TimeoutError):
        return True


def test_slow_uploads_big_bodies_keys_and_sigterm_drain(models_dir, tmp_path):
    settings = {"api_keys": KEY, "body_read_timeout": "4", "shutdown_grace": "20"}
    with serving(models_dir, tmp_path, **settings) as (process, port):
        wait_until_ready(process, port)
        url = f"http://127.0.0.1:{port}"
        json_headers = {"content-type": "application/json", **AUTH}

        # 1. A flood of stalled uploads does not take the workers: others are served,
        #    and each stalled one is cut with a 408 once its body stops arriving.
        started = time.monotonic()
        stalled = [
            start_request(port, KEYWORDS, json_headers | {"content-length": "1000"}, b'{"inst')
            for _ in range(40)
        ]
        served = httpx.post(url + KEYWORDS, content=BODY, headers=json_headers, timeout=10)
        assert served.status_code == 200 and time.monotonic() - started < 3.5  # before any 408
        for sock in stalled:
            status, headers, _ = read_response(sock)
            assert status == 408 and headers["connection"] == "close"
        assert time.monotonic() - started < 12

        # 2. A chunked body without Content-Length is cut at the limit, mid-stream.
        chunked = start_request(
            port, KEYWORDS, json_headers | {"transfer-encoding": "chunked"}, b""
        )
        sent = send_until_answered(chunked, b"%x\r\n%s\r\n" % (2**16, b" " * 2**16), 2**26)
        assert sent < 16 * 2**20  # of the 64 MiB it would have been
        status, _, body = read_response(chunked)
        assert status == 413 and json.loads(body)["title"] == "Payload too large"

        # 3. Without a key: 401 at once, the 10 GiB body is never waited for.
        keyless = start_request(
            port,
            KEYWORDS,
            {"content-type": "application/json", "content-length": str(10 * 2**30)},
            b"{",
        )
        status, headers, _ = read_response(keyless)
        assert status == 401 and headers["connection"] == "close" and is_closed(keyless)

        # 4. SIGTERM with a request in flight (its body half sent).
        in_flight = start_request(
            port, KEYWORDS, json_headers | {"content-length": str(len(BODY))}, BODY[:10]
        )
        time.sleep(0.3)  # the app is reading the body now
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        ready = httpx.get(url + "/v2/health/ready", timeout=5)
        while ready.status_code == 200 and time.monotonic() - signalled < 1.0:
            ready = httpx.get(url + "/v2/health/ready", timeout=5)  # the signal is async
        assert ready.status_code == 503
        assert ready.json()["title"] == "Shutting down"
        assert httpx.get(url + "/v2/health/live", timeout=5).status_code == 200
        refused = httpx.post(url + KEYWORDS, content=BODY, headers=json_headers, timeout=5)
        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.headers["connection"] == "close"
        assert process.poll() is None  # still draining: the in-flight request is not done

        in_flight.sendall(BODY[10:])
        status, headers, body = read_response(in_flight)
        assert status == 200 and json.loads(body)["model_id"] == "keywords"
        assert headers["connection"] == "close"
        assert process.wait(timeout=15) in (0, -signal.SIGTERM)  # left as soon as drained
        assert time.monotonic() - signalled < 10
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/v2/health/live", timeout=2)


def test_the_drain_grace_bounds_shutdown(models_dir, tmp_path):
    with serving(models_dir, tmp_path, shutdown_grace="1") as (process, port):
        wait_until_ready(process, port)
        stuck = start_request(
            port, KEYWORDS, {"content-type": "application/json", "content-length": "500"}, b"{"
        )
        time.sleep(0.3)
        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert process.wait(timeout=20) in (0, -signal.SIGTERM)
        # grace (1 s) + uvicorn's final close (2 s) + slack: not the 30 s body timeout.
        assert time.monotonic() - signalled < 8
        # The cut request is told so, as a retryable problem, and its connection closed.
        status, headers, body = read_response(stuck)
        assert status == 503 and headers["retry-after"] == "1"
        assert "grace was over" in json.loads(body)["detail"]
        assert is_closed(stuck)


def test_a_broken_required_model_stops_the_process_with_a_message(tmp_path):
    models = tmp_path / "models"
    add_tiny_model(models, "fine")
    (add_tiny_model(models, "broken") / "model.keras").write_bytes(b"not a zip")
    with serving(models, tmp_path) as (process, _port):
        assert process.wait(timeout=120) == 3  # uvicorn's start-up failure code
        log = next(tmp_path.glob("server-*.log")).read_text(errors="replace")
    assert "model broken: cannot load model.keras" in log


def test_an_early_answer_reaches_a_client_still_uploading(models_dir, tmp_path):
    """404 for an unknown model comes before the body is read; the server reads the
    rest and drops it, so 4 clients uploading 3 MB each get the problem every time, not
    a connection reset (15 of 40 were resets when the server closed on unread data),
    and the connection is kept for the next request."""
    body = b"\x89PNG" + bytes(3 * 1024 * 1024)
    with serving(models_dir, tmp_path, api_keys=KEY) as (process, port):
        wait_until_ready(process, port)

        async def client_run(client: httpx.AsyncClient) -> list[int | str]:
            statuses: list[int | str] = []
            for index in range(10):
                try:
                    answer = await client.post(
                        f"/v1/models/nope-{index}:explain",
                        content=body,
                        headers={"content-type": "image/png", **AUTH},
                    )
                except httpx.TransportError as exc:
                    statuses.append(type(exc).__name__)
                    continue
                assert answer.headers["content-type"] == "application/problem+json"
                assert "connection" not in answer.headers  # kept open
                statuses.append(answer.status_code)
            return statuses

        async def clients() -> list[list[int | str]]:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60) as c:
                return await asyncio.gather(*(client_run(c) for _ in range(4)))

        statuses = [status for run in asyncio.run(clients()) for status in run]
        assert statuses == [404] * 40
