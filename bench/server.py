"""The real server for the benchmarks: `python -m app` (uvicorn, one worker) on a free
loopback port, and what they read from it (its resident memory, its /metrics)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Loading and warming every bundled model takes ~20 s alone; on a busy shared CPU, minutes.
START_DEADLINE = 600.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(port: int, settings: dict[str, str]) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        GRADCAM_PORT=str(port),
        GRADCAM_HOST="127.0.0.1",
        GRADCAM_LOG_LEVEL="warning",
        TF_CPP_MIN_LOG_LEVEL="3",
        **settings,
    )
    server = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env)
    deadline = time.time() + START_DEADLINE
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        if server.poll() is not None:
            raise RuntimeError(f"the server exited during start-up (code {server.returncode})")
        time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the server did not become ready in {START_DEADLINE:.0f} s")


@contextlib.contextmanager
def serving(settings: dict[str, str]) -> Iterator[tuple[str, int]]:
    """(base URL, pid) of a ready server, stopped at the end whatever happened."""
    port = free_port()
    server = start_server(port, settings)
    print("\nserver: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)


def rss_mb(pid: int) -> float:
    """Resident memory of process `pid` (VmRSS), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def scrape(base: str) -> dict[str, float]:
    """Every sample of /metrics: `name{labels}` -> value."""
    values: dict[str, float] = {}
    for line in httpx.get(base + "/metrics", timeout=30).text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def metric_sum(values: dict[str, float], prefix: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in values.items() if k.startswith(prefix) and all(w in k for w in wanted))
