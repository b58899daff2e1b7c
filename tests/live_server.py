"""A real `python -m app` (uvicorn) on a free loopback port, serving copies of the
bundled `shapes` and `keywords` models: what the client and the CLI talk to (the shared
one, tests/conftest.py's `server_url`, is started as `gradcam serve`, which runs it).

Every wait is bounded and the process is killed at the end, whatever happened.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
CLIENT_SOURCE = ROOT / "clients" / "python"
SERVED = ("shapes", "keywords")
# `gradcam serve` as a module: the session's shared server is started so, which is what
# tests/cli/test_models.py::test_serve_runs_the_service checks.
CLI_SERVE = ("-m", "app.cli", "serve")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_models(folder: Path) -> Path:
    models = folder / "models"
    for model in SERVED:
        shutil.copytree(ROOT / "models" / model, models / model)
    return models


@contextmanager
def live_server(
    folder: Path, command: tuple[str, ...] = ("-m", "app"), **settings: str
) -> Iterator[str]:
    """The base URL of a ready server; `settings` as GRADCAM_<NAME> variables."""
    port = free_port()
    env = os.environ | {
        "GRADCAM_MODELS_DIR": str(copy_models(folder)),
        "GRADCAM_HOST": "127.0.0.1",
        "GRADCAM_PORT": str(port),
        "GRADCAM_DEVICE": "/CPU:0",
        "GRADCAM_LOG_LEVEL": "warning",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join((str(ROOT), str(CLIENT_SOURCE))),
        **{f"GRADCAM_{name.upper()}": value for name, value in settings.items()},
    }
    log = (folder / f"server-{port}.log").open("w+b")
    process = subprocess.Popen(
        [sys.executable, *command], cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


def wait_until_ready(process: subprocess.Popen[bytes], port: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited during start-up"
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError("the server did not become ready")


def shape_sample(seed: int = 0) -> tuple[bytes, int]:
    """A generated 64x64 shapes image (the kind the model was trained on) as PNG, and
    the index of the shape drawn in it."""
    from training.shapes_data import make_shapes

    pixels, labels, _ = make_shapes(1, seed=seed)
    buffer = io.BytesIO()
    Image.fromarray(pixels[0]).save(buffer, "PNG")
    return buffer.getvalue(), int(labels[0])
