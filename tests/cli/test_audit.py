"""`gradcam audit DIR --labels --boxes` against the live server and with --local: the same
numbers both ways, a report and a JSON result written; bad CSVs exit 2."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from training.shapes_data import make_shapes

from .conftest import gradcam

LABELS = ("circle", "square", "triangle", "cross")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("labelled")
    images, labels, boxes = make_shapes(5, seed=2727)
    label_rows, box_rows = ["path,label"], ["path,x0,y0,x1,y1"]
    for index, (image, label, box) in enumerate(zip(images, labels, boxes, strict=True)):
        name = f"scene{index}.png"
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        (folder / name).write_bytes(buffer.getvalue())
        label_rows.append(f"{name},{LABELS[label] if index % 2 else label}")  # name or index
        box_rows.append(f"{name},{','.join(str(int(v)) for v in box)}")
    (folder / "labels.csv").write_text("\n".join(label_rows) + "\n")
    (folder / "boxes.csv").write_text("\n".join(box_rows) + "\n")
    return folder


def audit_args(folder: Path, report: Path) -> list[str]:
    return [
        "audit", str(folder), "--labels", str(folder / "labels.csv"),
        "--boxes", str(folder / "boxes.csv"), "--model", "shapes",
        "--method", "gradcam", "eigencam", "--check", "pointing", "energy-pointing",
        "--report", str(report),
    ]  # fmt: skip


@pytest.mark.slow
def test_server_and_local_agree(server_url: str, models_dir: Path, labelled: Path, tmp_path):
    remote = gradcam(*audit_args(labelled, tmp_path / "remote.html"), "--url", server_url,
                     cwd=tmp_path)  # fmt: skip
    assert remote.returncode == 0, remote.stderr
    local = gradcam(*audit_args(labelled, tmp_path / "local.html"), "--local",
                    "--models-dir", str(models_dir), cwd=tmp_path)  # fmt: skip
    assert local.returncode == 0, local.stderr
    ours = json.loads((tmp_path / "local.json").read_text())
    theirs = json.loads((tmp_path / "remote.json").read_text())
    assert ours["instances"] == theirs["instances"] == 5
    for method in ("gradcam", "eigencam"):
        for key in ("pointing", "energy_pointing"):
            assert ours["methods"][method][key] == pytest.approx(
                theirs["methods"][method][key], abs=1e-5
            )
    page = (tmp_path / "remote.html").read_text()
    assert page.startswith("<!doctype html>") and "scene" in page
    assert "accuracy" in remote.stderr


def test_bad_csv_exits_2(labelled: Path, tmp_path: Path):
    (tmp_path / "labels.csv").write_text("file,class\nscene0.png,0\n")
    bad_header = gradcam("audit", str(labelled), "--labels", str(tmp_path / "labels.csv"),
                         "--model", "shapes", "--report", str(tmp_path / "r.html"), "--local",
                         cwd=tmp_path)  # fmt: skip
    assert bad_header.returncode == 2 and "header path,label" in bad_header.stderr
    (tmp_path / "labels.csv").write_text("path,label\nmissing.png,0\n")
    missing = gradcam("audit", str(labelled), "--labels", str(tmp_path / "labels.csv"),
                      "--model", "shapes", "--report", str(tmp_path / "r.html"), "--local",
                      cwd=tmp_path)  # fmt: skip
    assert missing.returncode == 2 and "missing.png is not a file" in missing.stderr
