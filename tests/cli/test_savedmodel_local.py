"""`gradcam explain --local` on a SavedModel that decodes JPEG bytes in its own graph."""

from pathlib import Path

import numpy as np
from PIL import Image

from tests import savedmodels as sm
from tests.cli.conftest import gradcam
from tests.cli.test_explain import read_jsonl


def test_local_explain_of_an_encoded_image_savedmodel(tmp_path: Path):
    models = tmp_path / "models"
    (models / "jpegs").mkdir(parents=True)
    sm.write_card(models / "jpegs", "jpegs", 'task = "image"\nmodel_file = "sm"\n')
    module = sm.JpegCnn()
    sm.save_module(module, models / "jpegs" / "sm", module.serve_bytes)
    image = tmp_path / "photo.jpg"
    image.write_bytes(sm.jpeg_bytes(9, side=32))
    out = tmp_path / "out"
    result = gradcam(
        "explain", str(image), "--model", "jpegs", "--local", "--models-dir", str(models),
        "--out", str(out), "--target", "1", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    record = read_jsonl(out / "explanations.jsonl")[str(image)]
    target = record["targets"][0]
    assert target["target"] == 1
    assert np.asarray(target["heatmap"]).shape == (14, 14)
    with Image.open(target["overlay"]) as overlay:
        assert overlay.size == (16, 16)  # drawn on the image the graph decoded
