"""`python -m app` with KServe's explainer arguments: the card it writes, and the served
KServe V1 `:explain`, against a second instance of this service as the predictor."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from app.kserve import kserve_environment
from tests.api.conftest import b64
from tests.live_server import (
    CLIENT_SOURCE,
    ROOT,
    free_port,
    live_server,
    shape_sample,
    wait_until_ready,
)

SHAPES = ROOT / "models" / "shapes"


def test_a_predictor_host_makes_a_remote_card(tmp_path: Path) -> None:
    env = kserve_environment(
        [
            "--model_name",
            "flowers",
            "--predictor_host",
            "predictor.ns:8080",
            "--http_port",
            "9000",
            "--image_size",
            "96,64",
            "--remote_input",
            "array",
            "--scaling",
            "symmetric",
        ],
        tmp_path,
    )
    assert env["GRADCAM_PORT"] == "9000"
    card = tomllib.loads((Path(env["GRADCAM_MODELS_DIR"]) / "flowers" / "model.toml").read_text())
    assert card["remote"] == "http://predictor.ns:8080/v1/models/flowers"
    assert card["remote_input"] == "array"
    assert card["image"] == {"size": [96, 64], "scaling": "symmetric"}


def test_without_an_image_size_the_predictors_metadata_gives_it(tmp_path: Path) -> None:
    env = kserve_environment(
        ["--model_name", "flowers", "--predictor_host", "predictor.ns:8080"], tmp_path
    )
    card = tomllib.loads((Path(env["GRADCAM_MODELS_DIR"]) / "flowers" / "model.toml").read_text())
    assert card["image"] == {"scaling": "unit"}  # no size: read at load from /metadata


def test_a_storage_uri_with_a_card_is_served_as_named(tmp_path: Path) -> None:
    env = kserve_environment(
        ["--model_name", "mine", "--storage_uri", str(SHAPES), "--http_port", "9000"], tmp_path
    )
    folder = Path(env["GRADCAM_MODELS_DIR"]) / "mine"
    card = tomllib.loads((folder / "model.toml").read_text())
    assert card["id"] == "mine" and card["model_file"] == "model.keras"
    assert (folder / "model.keras").read_bytes() == (SHAPES / "model.keras").read_bytes()


def test_a_storage_uri_holding_only_the_model_file(tmp_path: Path) -> None:
    env = kserve_environment(
        [
            "--model_name",
            "m",
            "--storage_uri",
            str(SHAPES / "model.keras"),
            "--image_size",
            "64,64",
        ],
        tmp_path,
    )
    card = tomllib.loads((Path(env["GRADCAM_MODELS_DIR"]) / "m" / "model.toml").read_text())
    assert card["model_file"] == "model.keras" and "remote" not in card


def test_neither_predictor_nor_storage_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        kserve_environment(["--model_name", "m"], tmp_path)


@contextmanager
def explainer(folder: Path, *arguments: str) -> Iterator[str]:
    port = free_port()
    env = os.environ | {
        "GRADCAM_HOST": "127.0.0.1",
        "GRADCAM_DEVICE": "/CPU:0",
        "GRADCAM_LOG_LEVEL": "warning",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TMPDIR": str(folder),
        "PYTHONPATH": os.pathsep.join((str(ROOT), str(CLIENT_SOURCE))),
    }
    log = (folder / f"explainer-{port}.log").open("w+b")
    command = [sys.executable, "-m", "app", *arguments, "--http_port", str(port)]
    process = subprocess.Popen(command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        log.close()


def kserve_explain(url: str, name: str, **parameters: object) -> httpx.Response:
    image, label = shape_sample(5)
    body = {"instances": [{"b64": b64(image)}], "parameters": {"targets": [label], **parameters}}
    return httpx.post(f"{url}/v1/models/{name}:explain", json=body, timeout=120)


@pytest.mark.slow
def test_the_explainer_calls_its_predictor(tmp_path: Path) -> None:
    with live_server(tmp_path / "predictor") as predictor:
        host = predictor.removeprefix("http://")
        # No --image_size: the predictor's /metadata gives the input shape.
        with explainer(tmp_path, "--model_name", "shapes", "--predictor_host", host) as url:
            detail = httpx.get(f"{url}/v1/models/shapes").json()
            assert detail["remote"]["url"] == f"{predictor}/v1/models/shapes"
            assert detail["input_shape"] == [None, 64, 64, 3]
            response = kserve_explain(url, "shapes", occlusion_window=16)
            assert response.status_code == 200, response.text
            assert response.json()["method"] == "occlusion"  # a remote model's default
            assert kserve_explain(url, "shapes", method="gradcam").status_code == 422
            # The V1 protocol's tensor instance: the image after the card's scaling (unit).
            image, label = shape_sample(5)
            pixels = np.asarray(Image.open(io.BytesIO(image)), np.float32)
            body = {
                "instances": [(pixels / np.float32(255.0)).tolist()],
                "parameters": {"targets": [label], "occlusion_window": 16},
            }
            tensor = httpx.post(f"{url}/v1/models/shapes:explain", json=body, timeout=120)
            assert tensor.status_code == 200, tensor.text
            maps = [
                r.json()["explanations"][0]["targets"][0]["heatmap"] for r in (response, tensor)
            ]
            np.testing.assert_allclose(maps[1], maps[0], atol=1e-6)


@pytest.mark.slow
def test_a_storage_uri_serves_every_method(tmp_path: Path) -> None:
    with explainer(tmp_path, "--model_name", "shapes", "--storage_uri", str(SHAPES)) as url:
        for method in ("gradcam", "occlusion"):
            response = kserve_explain(url, "shapes", method=method)
            assert response.status_code == 200, response.text
