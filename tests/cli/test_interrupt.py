"""Ctrl-C in the middle of a folder: the CLI stops soon, exits 130, and what it wrote
is whole: complete overlay files, JSON Lines of whole records, one per overlay set."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from tests.cli.conftest import cli_env
from tests.live_server import shape_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

IMAGES = 300


def test_sigint_mid_folder_keeps_what_is_done(server_url: str, tmp_path: Path):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(IMAGES):
        (folder / f"{index:03d}.png").write_bytes(shape_sample(seed=index % 20)[0])
    out = tmp_path / "out"
    jsonl = out / "explanations.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "explain", str(folder), "--model", "shapes",
         "--url", server_url, "--out", str(out), "--jobs", "2", "--target", "0", "1"],
        cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (jsonl.exists() and jsonl.read_text().count("\n") >= 5):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "no progress in 120 s"
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert process.returncode == 130, stderr
    assert "interrupted:" in stderr and "Traceback" not in stderr
    text = jsonl.read_text()
    assert text.endswith("\n")
    records = [json.loads(line) for line in text.splitlines()]
    assert 5 <= len(records) < IMAGES
    assert f"interrupted: {len(records)} of {IMAGES} images done" in stderr
    listed = set()
    for record in records:
        assert "error" not in record, record
        for target in record["targets"]:
            listed.add(Path(target["overlay"]))
    assert len(listed) == 2 * len(records)
    written = {path for path in out.rglob("*") if path.name != jsonl.name}
    assert written == listed  # no partial or unrecorded files
    for path in listed:
        with Image.open(path) as image:
            image.load()  # the whole file decodes
            assert image.size == (64, 64)
