"""`--box`, `--mask` and `--output`: target objects from the command line, run locally."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.cli.backends import command_targets
from app.cli.parser import build_parser
from tests import head_models as hm


def parsed(*options: str) -> object:
    return build_parser().parse_args(["explain", "x.png", "--model", "m", *options])


def test_boxes_and_classes_make_box_targets():
    args = parsed("--target", "1", "2", "--box", "1,2,30,40", "--output", "scores")
    assert command_targets(args) == [  # type: ignore[arg-type]
        {"class": 1, "box": [1.0, 2.0, 30.0, 40.0], "output": "scores"},
        {"class": 2, "box": [1.0, 2.0, 30.0, 40.0], "output": "scores"},
    ]
    assert command_targets(parsed("--target", "3")) == [3]  # type: ignore[arg-type]
    assert command_targets(parsed()) is None  # type: ignore[arg-type]


def test_a_bad_box_is_a_usage_error():
    with pytest.raises(SystemExit) as exited:
        parsed("--box", "1,2,3")
    assert exited.value.code == 2


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("models")
    folder = root / "seg"
    folder.mkdir()
    hm.segmentation_model().save(folder / "model.keras")
    card = (
        'id = "seg"\ntask = "image"\nmodel_file = "model.keras"\nhead = "segmentation"\n'
        '[image]\nsize = [16, 16]\nscaling = "unit"\n'
    )
    (folder / "model.toml").write_text(card, encoding="utf-8")
    return root


@pytest.mark.slow  # loads TensorFlow and a model in this process
def test_a_mask_explains_its_region_locally(models_dir: Path, tmp_path: Path):
    image = tmp_path / "scene.png"
    Image.fromarray((hm.scenes(1, seed=2)[0][0] * 255).astype(np.uint8)).save(image)
    mask = np.zeros((16, 16), np.uint8)
    mask[0:8, 0:8] = 255  # a quarter: 4x4 cells of the 8x8 output
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    (tmp_path / "mask.png").write_bytes(buffer.getvalue())
    out = tmp_path / "out"
    argv = ["explain", str(image), "--model", "seg", "--local", "--models-dir", str(models_dir)]
    argv += ["--target", "2", "--mask", str(tmp_path / "mask.png"), "--out", str(out)]
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 0
    (record,) = [json.loads(line) for line in (out / "explanations.jsonl").read_text().splitlines()]
    (target,) = record["targets"]
    assert (target["target"], target["kind"], target["region_pixels"]) == (2, "region", 16)
