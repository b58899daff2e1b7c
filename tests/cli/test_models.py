"""`gradcam models`: the table; and the --url paths load no server code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import cli_env, gradcam
from tests.live_server import CLI_SERVE, shape_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_models_table(server_url: str, tmp_path: Path):
    result = gradcam("models", "--url", server_url, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if "│" in line}
    shapes, keywords = rows["shapes"], rows["keywords"]
    cells = [cell.strip() for cell in shapes.split("│")[1:-1]]
    assert cells[:4] == ["shapes", "image", "64x64x3", "4"]
    assert "last_conv" in cells[4] and "conv1" in cells[4]
    assert cells[5] == "last_conv"  # the card's default layer
    assert [cell.strip() for cell in keywords.split("│")[1:5]] == ["keywords", "text", "48", "4"]


def test_models_without_a_server_exits_1(tmp_path: Path):
    result = gradcam("models", "--url", "http://127.0.0.1:9", "--timeout", "2", cwd=tmp_path)
    assert result.returncode == 1 and "gradcam models:" in result.stderr


NO_SERVER_CODE = """
import json, sys
from app.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras", "fastapi"))
server = sorted(m for m in sys.modules if m.startswith("app.") and not m.startswith("app.cli"))
print(json.dumps({"code": code, "heavy": heavy, "server": server}))
"""


def test_the_url_paths_import_no_tensorflow(server_url: str, tmp_path: Path):
    image = tmp_path / "one.png"
    image.write_bytes(shape_sample()[0])
    for args in (
        ["models", "--url", server_url],
        ["explain", str(image), "--model", "shapes", "--url", server_url, "--out", "out"],
    ):
        result = subprocess.run(
            [sys.executable, "-c", NO_SERVER_CODE, *args],
            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        report = json.loads(result.stdout.strip().splitlines()[-1])
        assert report == {"code": 0, "heavy": [], "server": []}, (args, result.stderr)


def test_serve_runs_the_service(server_url: str):
    """The session's live server is a `gradcam serve` process (tests/conftest.py)."""
    assert CLI_SERVE == ("-m", "app.cli", "serve")
    assert httpx.get(f"{server_url}/v1/models/shapes", timeout=10).json()["id"] == "shapes"


def test_a_long_layer_list_is_counted_not_listed():
    from types import SimpleNamespace

    from app.cli.models_command import MAX_LISTED_LAYERS, layer_list

    layers = [SimpleNamespace(name=f"layer{i}") for i in range(MAX_LISTED_LAYERS + 1)]
    info = SimpleNamespace(id="big", candidate_layers=layers)
    assert layer_list(info) == f"{MAX_LISTED_LAYERS + 1} (all in GET /v1/models/big)"  # type: ignore[arg-type]
    info.candidate_layers = layers[:2]
    assert layer_list(info) == "layer0, layer1"  # type: ignore[arg-type]


def test_a_one_output_model_shows_its_class_and_the_other_side():
    from gradcam_client.results import ModelInfo
    from rich.console import Console

    from app.cli.models_command import models_table

    sentiment = ModelInfo(
        id="sentiment", version="1", task="text", ready=True, description="",
        input_shape=(None, None), n_classes=1, labels=("positive",),
        default_layer="bidirectional_2", score="logit", device="/CPU:0",
        candidate_layers=(), card={},
    )  # fmt: skip
    console = Console(record=True, width=200)
    console.print(models_table([sentiment]))
    assert "1 output: positive / not positive (counterfactual)" in console.export_text()
