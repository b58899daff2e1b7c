"""The `gradcam` CLI as users run it: a subprocess, against one live server per session."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import CLIENT_SOURCE, ROOT, copy_models, shape_sample


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_models(tmp_path_factory.mktemp("cli-models"))


def cli_env() -> dict[str, str]:
    return os.environ | {
        "PYTHONPATH": os.pathsep.join((str(ROOT), str(CLIENT_SOURCE))),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "COLUMNS": "300",  # wide enough that no table row wraps
    }


def gradcam(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


GOOD = ("a.png", "nested/b.png", "nested/deeper/c.png")
BAD = ("broken.png", "nested/text.jpg")


@pytest.fixture(scope="session")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three shapes images in nested folders, two files that are not images under image
    names, and a text file the search skips."""
    folder = tmp_path_factory.mktemp("mixed")
    for seed, name in enumerate(GOOD):
        write(folder / name, shape_sample(seed=100 + seed)[0])
    write(folder / BAD[0], b"\x89PNG\r\n\x1a\n truncated")
    write(folder / BAD[1], b"a text file with a .jpg name")
    write(folder / "notes.txt", b"not an image and not named like one")
    return folder


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
