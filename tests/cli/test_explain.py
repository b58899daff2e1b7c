"""`gradcam explain` on a folder of good and bad files, over HTTP and with --local."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.conftest import BAD, GOOD, gradcam
from tests.live_server import shape_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]


def read_jsonl(path: Path) -> dict[str, dict]:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    return {record["path"]: record for record in records}


def check_folder_run(folder: Path, out: Path, result, targets: list[int] | None) -> dict[str, dict]:
    """Bad files reported with their problem, good ones written whole; the records.
    `targets` None: one target each, the top prediction."""
    assert result.returncode == 1, result.stderr
    for name in BAD:
        assert f"failed: {folder / name}: 400 Invalid image" in result.stderr
    assert f"{len(BAD)} of {len(GOOD) + len(BAD)} images failed" in result.stderr
    records = read_jsonl(out / "explanations.jsonl")
    assert set(records) == {str(folder / name) for name in GOOD + BAD}
    for name in BAD:
        assert "Invalid image" in records[str(folder / name)]["error"]
    for name in GOOD:
        record = records[str(folder / name)]
        scores = [p["score"] for p in record["predictions"]]
        assert scores == sorted(scores, reverse=True) and len(scores) == 4
        explained = [t["target"] for t in record["targets"]]
        assert explained == (targets or [record["predictions"][0]["index"]])
        for target in record["targets"]:
            overlay = Path(target["overlay"])
            stem = Path(name).with_suffix("")
            assert overlay == out / f"{stem}.target-{target['target']}.png"
            with Image.open(overlay) as image:
                assert image.format == "PNG" and image.size == (64, 64)
            assert np.asarray(target["heatmap"]).ndim == 2
    assert "notes" not in " ".join(records)
    return records


def test_a_folder_against_the_server(server_url: str, mixed_folder: Path, tmp_path: Path):
    out = tmp_path / "out"
    result = gradcam(
        "explain", str(mixed_folder), "--model", "shapes", "--url", server_url,
        "--out", str(out), "--target", "0", "2", "--jobs", "2", cwd=tmp_path,
    )  # fmt: skip
    check_folder_run(mixed_folder, out, result, targets=[0, 2])


def test_a_folder_with_local_matches_the_server(
    server_url: str, models_dir: Path, mixed_folder: Path, tmp_path: Path
):
    common = ("explain", str(mixed_folder), "--model", "shapes")
    local = gradcam(
        *common, "--local", "--models-dir", str(models_dir), "--out", str(tmp_path / "local"),
        cwd=tmp_path,
    )  # fmt: skip
    local_records = check_folder_run(mixed_folder, tmp_path / "local", local, targets=None)
    remote = gradcam(*common, "--url", server_url, "--out", str(tmp_path / "remote"), cwd=tmp_path)
    remote_records = check_folder_run(mixed_folder, tmp_path / "remote", remote, targets=None)
    for name in GOOD:
        path = str(mixed_folder / name)
        drawn = shape_sample(seed=100 + GOOD.index(name))[1]
        local_target = local_records[path]["targets"][0]
        assert local_target["target"] == drawn  # the top prediction, explained
        np.testing.assert_allclose(
            local_target["heatmap"], remote_records[path]["targets"][0]["heatmap"], atol=1e-4
        )


def test_all_good_files_exit_0_in_the_format_asked(
    server_url: str, mixed_folder: Path, tmp_path: Path
):
    files = [str(mixed_folder / name) for name in GOOD]
    jsonl = tmp_path / "records" / "run.jsonl"
    result = gradcam(
        "explain", *files, "--model", "shapes", "--url", server_url, "--format", "jpeg",
        "--out", str(tmp_path / "out"), "--json", str(jsonl), "--top-k", "2", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    records = read_jsonl(jsonl)
    assert set(records) == set(files)
    for record in records.values():
        assert len(record["predictions"]) == 2
        assert record["predictions"][0]["label"] in ("circle", "square", "triangle", "cross")
        with Image.open(record["targets"][0]["overlay"]) as overlay:
            assert overlay.format == "JPEG"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        f"{Path(name).stem}.target-{records[str(mixed_folder / name)]['targets'][0]['target']}.jpg"
        for name in GOOD
    )


def test_an_unknown_model_fails_once_with_its_problem(server_url: str, tmp_path: Path):
    image = tmp_path / "one.png"
    image.write_bytes(shape_sample()[0])
    result = gradcam("explain", str(image), "--model", "nope", "--url", server_url, cwd=tmp_path)
    assert result.returncode == 1
    assert "404 Model not found" in result.stderr and "nope" in result.stderr


def test_usage_errors_exit_2(tmp_path: Path):
    image = tmp_path / "one.png"
    image.write_bytes(shape_sample()[0])
    for args in (
        ["explain", str(image)],  # no --model
        ["explain", str(image), "--model", "shapes", "--format", "gif"],
        ["explain", str(image), "--model", "shapes", "--jobs", "0"],
        ["explain", str(tmp_path / "missing.png"), "--model", "shapes"],
        ["explain", str(tmp_path / "empty-folder-does-not-exist"), "--model", "shapes"],
        ["frobnicate"],
        [],
    ):
        result = gradcam(*args, cwd=tmp_path)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.strip(), args
