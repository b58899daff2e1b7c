"""Scale-out on Ray Serve: two nodes on loopback, two replicas, the single-process heatmaps.

Starts a real cluster (a head and a second node on this machine) inside its own network
and PID namespaces, so it binds loopback only and everything it started dies with it.
Runs in CI (`CI=true`, and `.ci/run` sets GRADCAM_RUN_RAY=1); locally opt in with
`GRADCAM_RUN_RAY=1 .venv/bin/pytest -m ray`. Needs root (for `unshare`) and the ray extra.
"""

import base64
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.settings import Settings
from tests.live_server import copy_models

ROOT = Path(__file__).resolve().parents[2]
CHECK_SCRIPT = Path(__file__).with_name("ray_cluster_check.py")
N_REQUESTS = 40
TIMEOUT_S = 300
# Heatmaps are float32 maps normalised to [-1, 1]. Across processes and batch compositions
# CPU kernels add the same terms in another order, which moves a value by a few float32
# ulps of the map's scale (eps 1.2e-7 times the channels summed, <= 64 here): ~1e-6 at
# worst. A real error (another target, layer or sample) moves values by 1e-2 or more.
HEATMAP_ATOL = 1e-5
# The replicas (and the single process) serve the two small bundled models, an image
# classifier and a text one (tests/live_server.py's copies): every replica loads and warms
# every model before it takes traffic, and the cluster's two cores are shared by all.


def opted_in() -> bool:
    flags = (os.environ.get(name, "").lower() for name in ("CI", "GRADCAM_RUN_RAY"))
    return any(flag in {"1", "true"} for flag in flags)


pytestmark = [
    pytest.mark.ray,
    pytest.mark.skipif(not opted_in(), reason="starts a Ray cluster: set GRADCAM_RUN_RAY=1"),
]

TEXTS = ["sahom goal vasho", "the stock market fell", "storm and rain", "a new song"]


def random_png(seed: int) -> str:
    pixels = np.random.default_rng(seed).integers(0, 256, (96, 128, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def explain_requests() -> list[dict]:
    """Half images for shapes, half texts for keywords, with varied targets."""
    requests = []
    for i in range(N_REQUESTS):
        if i % 2:
            instance = {"image": {"b64": random_png(i % 4)}}
            path, parameters = "/v1/models/shapes:explain", {"targets": [i % 4, (i + 1) % 4]}
        else:
            instance = {"text": TEXTS[i % 4]}
            path, parameters = "/v1/models/keywords:explain", {"targets": [i % 4]}
        requests.append({"path": path, "body": {"instances": [instance], "parameters": parameters}})
    return requests


def single_process_responses(requests: list[dict], models_dir: Path) -> list[dict]:
    app = create_app(Settings(models_dir=models_dir, _env_file=None))
    with TestClient(app) as client:
        return [client.post(r["path"], json=r["body"]).json() for r in requests]


def heatmaps(body: dict) -> list[np.ndarray]:
    return [np.array(t["heatmap"]) for e in body["explanations"] for t in e["targets"]]


def run_cluster_check(requests_file: Path, results_file: Path, models_dir: Path) -> None:
    """The check script in fresh network + PID namespaces; `--kill-child` ends them on timeout.

    The script is the namespace's init (`exec`): `--own-pid-namespace` lets it end the
    cluster by killing every other process there."""
    inner = f"ip link set lo up && exec {sys.executable} {CHECK_SCRIPT} --own-pid-namespace"
    inner += f" --requests {requests_file} --out {results_file} --models-dir {models_dir}"
    command = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "bash", "-c"]
    completed = subprocess.run(
        [*command, inner], capture_output=True, text=True, timeout=TIMEOUT_S, cwd=ROOT
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-6000:]


def test_two_replicas_on_two_nodes_answer_like_one_process(tmp_path):
    requests = explain_requests()
    models_dir = copy_models(tmp_path)
    expected = single_process_responses(requests, models_dir)
    requests_file, results_file = tmp_path / "requests.json", tmp_path / "results.json"
    requests_file.write_text(json.dumps(requests))

    run_cluster_check(requests_file, results_file, models_dir)

    results = json.loads(results_file.read_text())
    assert sorted(results["replica_nodes"]) == ["127.0.0.1", "127.0.0.2"]
    assert results["ready_status"] == 200  # Serve ran the lifespan before the first request
    assert [r["status"] for r in results["responses"]] == [200] * N_REQUESTS
    for response, want in zip(results["responses"], expected, strict=True):
        got = heatmaps(response["body"])
        assert len(got) == len(heatmaps(want)) == len(want["explanations"][0]["targets"])
        for got_map, want_map in zip(got, heatmaps(want), strict=True):
            np.testing.assert_allclose(got_map, want_map, rtol=0, atol=HEATMAP_ATOL)
