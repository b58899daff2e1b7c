"""`gradcam audit --ray` on the local two-node Ray cluster (as test_ray_cluster.py starts
it: its own network and PID namespaces, loopback only): actors on both nodes, and the
same numbers as the audit in one process. Opt-in like the Serve test (GRADCAM_RUN_RAY=1;
CI sets it); needs root for `unshare` and the ray extra (ray[data])."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.deploy.test_ray_cluster import opted_in
from tests.live_server import copy_models
from training.shapes_data import make_shapes

ROOT = Path(__file__).resolve().parents[2]
CHECK_SCRIPT = Path(__file__).with_name("ray_audit_check.py")

pytestmark = [
    pytest.mark.ray,
    pytest.mark.slow,
    pytest.mark.skipif(not opted_in(), reason="starts a Ray cluster: set GRADCAM_RUN_RAY=1"),
]


def labelled_folder(folder: Path, n: int) -> list[str]:
    images, labels, boxes = make_shapes(n, seed=4711)
    label_rows, box_rows = ["path,label"], ["path,x0,y0,x1,y1"]
    for index, (image, label, box) in enumerate(zip(images, labels, boxes, strict=True)):
        Image.fromarray(image).save(folder / f"s{index:02d}.png")
        label_rows.append(f"s{index:02d}.png,{label}")
        box_rows.append(f"s{index:02d}.png,{','.join(str(int(v)) for v in box)}")
    (folder / "labels.csv").write_text("\n".join(label_rows) + "\n")
    (folder / "boxes.csv").write_text("\n".join(box_rows) + "\n")
    return [
        str(folder), "--labels", str(folder / "labels.csv"), "--boxes", str(folder / "boxes.csv"),
        "--model", "shapes", "--method", "gradcam", "eigencam",
        "--check", "pointing", "energy-pointing", "random-logit", "randomization",
    ]  # fmt: skip


def test_ray_audit_on_two_nodes_equals_one_process(tmp_path):
    models_dir = copy_models(tmp_path)
    (tmp_path / "set").mkdir()
    common = [*labelled_folder(tmp_path / "set", 20), "--models-dir", str(models_dir)]
    local = subprocess.run(
        [sys.executable, "-m", "app.cli", "audit", *common, "--local",
         "--report", str(tmp_path / "local.html")],
        capture_output=True, text=True, timeout=600, cwd=ROOT,
        env={"PYTHONPATH": f"{ROOT}:{ROOT / 'clients' / 'python'}", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert local.returncode == 0, local.stderr[-3000:]
    out = tmp_path / "ray_out.json"
    inner = f"ip link set lo up && exec {sys.executable} {CHECK_SCRIPT} --own-pid-namespace"
    inner += f" --out {out} -- {' '.join(common)} --report {tmp_path / 'ray.html'}"
    command = ["unshare", "--net", "--pid", "--fork", "--mount-proc", "--kill-child", "bash", "-c"]
    ran = subprocess.run([*command, inner], capture_output=True, text=True, timeout=900, cwd=ROOT)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    found = json.loads(out.read_text())
    assert found["returncode"] == 0, found["stderr"]
    ray_result = found["result"]
    assert ray_result["ray"]["nodes"] == ["127.0.0.1", "127.0.0.2"]
    expected = json.loads((tmp_path / "local.json").read_text())
    assert ray_result["instances"] == expected["instances"] == 20
    for method, scores in expected["methods"].items():
        got = ray_result["methods"][method]
        for key in ("pointing", "energy_pointing"):
            assert got[key] == pytest.approx(scores[key], abs=1e-9)
        assert got["random_logit"]["ssim"] == pytest.approx(
            scores["random_logit"]["ssim"], abs=1e-6
        )
        steps, want = got["randomization"]["steps"], scores["randomization"]["steps"]
        assert [s["layer"] for s in steps] == [s["layer"] for s in want]
        for s, w in zip(steps, want, strict=True):
            assert s["spearman"] == pytest.approx(w["spearman"], abs=1e-6)
        assert got["randomization"]["passed"] == scores["randomization"]["passed"]
    assert (tmp_path / "ray.html").read_text().startswith("<!doctype html>")
