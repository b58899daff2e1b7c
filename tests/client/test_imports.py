"""The client stands alone: a fresh interpreter that sees only clients/python imports
it, explains through it, and has loaded neither TensorFlow, Keras, FastAPI nor `app`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.live_server import CLIENT_SOURCE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

SCRIPT = """
import json, sys
from gradcam_client import AsyncClient, Client
import numpy as np

with Client(sys.argv[1]) as client:
    models = [m.id for m in client.models()]
    image = np.zeros((64, 64, 3), dtype=np.uint8)
    image[16:48, 16:48] = 255
    result = client.explain_image("shapes", image)
    overlay = result.explanation.targets[0].overlay
    text = client.explain_text("keywords", text="storm vasho")
heavy = sorted(
    name for name in sys.modules
    if name.split(".")[0] in ("tensorflow", "keras", "fastapi", "starlette", "app")
)
print(json.dumps({"models": models, "overlay": overlay.size, "heavy": heavy,
                  "tokens": text.explanation.tokens}))
"""


def test_the_client_imports_no_server_code(server_url: str, tmp_path):
    # -I: no PYTHONPATH, no current folder; the client's source folder is all it adds.
    path_line = f"import sys; sys.path.insert(0, {str(CLIENT_SOURCE)!r})\n"
    result = subprocess.run(
        [sys.executable, "-I", "-c", path_line + SCRIPT, server_url],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert sorted(report["models"]) == ["keywords", "shapes"]
    assert report["overlay"] == [64, 64] and report["tokens"] == ["storm", "vasho"]
    assert report["heavy"] == []
