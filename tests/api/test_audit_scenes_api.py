"""The pointing game on held-out `shapes_seg` and `shapes_det` scenes, through the job API
(POST :audit, GET the job until done, GET its report): each object of a scene is an
instance with its own mask (segmentation) or box (detection)."""

import base64
import shutil
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from bench.audit_scenes import scene_items

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
MODELS = ("shapes_seg", "shapes_det")
# A seed no training, figure or other test of these models uses (see bench/audit_scenes.py).
SEED = 27_272
SCENES = 10
# Measured on these 10 scenes (19 objects), pointing with the 15 px margin: gradcam
# 0.895 (17 of 19) on both models, hirescam 1.000 on both, accuracy 1.000 on both; the
# bounds leave one more miss of room (16 / 19, 18 / 19).
AT_LEAST = {"gradcam": 0.84, "hirescam": 0.94}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for model in MODELS:
        shutil.copytree(MODELS_DIR / model, root / model)
    settings = Settings(models_dir=root, _env_file=None)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def instance(item) -> dict:
    found = {"image": {"b64": base64.b64encode(item.image).decode()}, "label": item.label,
             "name": item.name}  # fmt: skip
    if item.mask is not None:
        found["mask"] = {"b64": base64.b64encode(item.mask).decode()}
    else:
        found["box"] = list(item.box)
    return found


def finished(client, path: str) -> dict:
    end = time.monotonic() + 120
    while (job := client.get(path).json())["status"] in ("queued", "running"):
        assert time.monotonic() < end, "the audit did not finish"
        time.sleep(0.05)
    return job


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_the_pointing_game_on_held_out_scenes(client, model):
    items = scene_items(model, SCENES, SEED)
    body = {
        "instances": [instance(item) for item in items],
        "parameters": {"methods": list(AT_LEAST), "checks": ["pointing", "energy-pointing"]},
    }
    answer = client.post(f"/v1/models/{model}:audit", json=body)
    assert answer.status_code == 202, answer.text
    job = finished(client, answer.headers["location"])
    assert job["status"] == "done", job["error"]
    result = job["result"]
    assert result["instances"] == len(items) and result["accuracy"] == 1.0
    for method, bound in AT_LEAST.items():
        assert result["methods"][method]["pointing"] >= bound, (method, result["methods"])
    report = client.get(f"{answer.headers['location']}/report")
    assert report.status_code == 200 and f"Audit of {model}" in report.text
