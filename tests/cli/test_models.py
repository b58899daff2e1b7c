"""`gradcam models`: plain columns when piped, --json; and the --url paths load no server code."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from gradcam_client import LayerInfo, ModelInfo

from tests.cli.conftest import cli_env, gradcam
from tests.live_server import CLI_SERVE, shape_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def plain_rows(stdout: str) -> dict[str, list[str]]:
    """Plain columns are two or more spaces apart; a cell holds at most single spaces."""
    cells = [re.split(r" {2,}", line) for line in stdout.splitlines() if line.strip()]
    assert cells[0] == ["id", "task", "input shape", "labels", "default layer", "candidate layers"]
    return {row[0]: row for row in cells[1:]}


def test_models_piped_are_plain_columns(server_url: str, tmp_path: Path):
    result = gradcam("models", "--url", server_url, cwd=tmp_path)  # stdout is a pipe
    assert result.returncode == 0, result.stderr
    assert "│" not in result.stdout and "…" not in result.stdout
    rows = plain_rows(result.stdout)
    shapes, keywords = rows["shapes"], rows["keywords"]
    assert shapes[:5] == ["shapes", "image", "64x64x3", "4", "last_conv"]  # the card's default
    assert "last_conv" in shapes[5] and "conv1" in shapes[5]
    assert keywords[:4] == ["keywords", "text", "48", "4"]


def test_models_json_parses(server_url: str, tmp_path: Path):
    result = gradcam("models", "--url", server_url, "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    models = {model["id"]: model for model in answer["models"]}
    assert set(models) == {"shapes", "keywords"} and answer["not_ready"] == []
    assert models["shapes"]["default_layer"] == "last_conv"
    assert "conv1" in [layer["name"] for layer in models["shapes"]["candidate_layers"]]


LONG_ID = "efficientnet_lite0_imagenet_with_a_long_descriptive_model_identifier"


def fake_model(model_id: str, n_layers: int) -> ModelInfo:
    layers = tuple(LayerInfo(f"block{i}_project_conv", i, (None, 7, 7, 8)) for i in range(n_layers))
    return ModelInfo(
        model_id, "1", "image", True, "", (None, 224, 224, 3), 2, ("cat", "dog"),
        layers[-1].name, "logit", "CPU", layers, {},
    )  # fmt: skip


class FakeClient:
    """What `models_command` asks of the client, answering with two models."""

    MODELS: ClassVar[dict[str, ModelInfo]] = {
        LONG_ID: fake_model(LONG_ID, 20),
        "tiny": fake_model("tiny", 3),
    }

    def __init__(self, *args: object, **kwargs: object) -> None: ...
    def __enter__(self) -> FakeClient:
        return self

    def __exit__(self, *exc: object) -> None: ...
    def models(self) -> list[ModelInfo]:
        return list(self.MODELS.values())

    def model(self, model_id: str) -> ModelInfo:
        return self.MODELS[model_id]


@pytest.mark.parametrize("columns", [None, "80", "40"])
def test_long_ids_are_never_cut_when_piped(monkeypatch, capsys, columns):
    """rich drew 80 columns off a terminal and printed `efficientnet…`: the bug."""
    from app.cli import models_command as command

    monkeypatch.setattr(command, "Client", FakeClient)
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    args = argparse.Namespace(url="http://x", api_key=None, timeout=1.0, json=False)
    assert command.models_command(args) == 0
    rows = plain_rows(capsys.readouterr().out)
    assert set(rows) == {LONG_ID, "tiny"}
    assert rows[LONG_ID][4] == "block19_project_conv"
    assert rows[LONG_ID][5].split(", ") == [f"block{i}_project_conv" for i in range(20)]


def test_json_keeps_every_field(monkeypatch, capsys):
    from app.cli import models_command as command

    monkeypatch.setattr(command, "Client", FakeClient)
    args = argparse.Namespace(url="http://x", api_key=None, timeout=1.0, json=True)
    assert command.models_command(args) == 0
    models = json.loads(capsys.readouterr().out)["models"]
    assert [model["id"] for model in models] == [LONG_ID, "tiny"]
    assert models[0]["input_shape"] == [None, 224, 224, 3]
    assert len(models[0]["candidate_layers"]) == 20


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


def test_a_one_output_model_shows_its_one_class():
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
    assert "1:positive" in console.export_text()
