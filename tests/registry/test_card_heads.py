"""Cards with heads: tables per output, default_output, [detection]; refused on mismatch."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.targets.rows import Target
from app.errors import ModelError, UnknownOutput
from app.registry.registry import load_served_model
from tests import head_models as hm
from tests import savedmodels as sm

IMAGE = '[image]\nsize = [16, 16]\nscaling = "unit"\n'
DETECTION = (
    'head = "detection"\n[detection]\nboxes_output = "boxes"\nscores_output = "scores"\n'
    'box_format = "cxcywh"\nbox_units = "normalized"\n'
)


def model_folder(root: Path, model_id: str, model: keras.Model, body: str) -> Path:
    folder = root / model_id
    folder.mkdir()
    model.save(folder / "model.keras")
    sm.write_card(folder, model_id, f'task = "image"\nmodel_file = "model.keras"\n{body}')
    return folder


def test_detection_card_loads_with_its_head(tmp_path: Path) -> None:
    model_folder(tmp_path, "det", hm.detection_model(), DETECTION + IMAGE)
    served = load_served_model(tmp_path, load_card(tmp_path, "det"), None)
    assert served.heads is not None and served.heads.default == "scores"
    cam = served.gradcam(None)
    assert cam.head.kind == "detection" and cam.layer.name == "cells"
    with pytest.raises(UnknownOutput, match="outputs: scores"):
        served.gradcam(None, output="nope")


def test_segmentation_card_on_a_vector_output_is_refused(tmp_path: Path) -> None:
    model_folder(tmp_path, "bad", hm.vector_model("multilabel"), 'head = "segmentation"\n' + IMAGE)
    with pytest.raises(ModelError, match=r"head of output 'labels': head segmentation needs"):
        load_served_model(tmp_path, load_card(tmp_path, "bad"), None)


def test_detection_card_without_its_outputs_is_refused(tmp_path: Path) -> None:
    model_folder(tmp_path, "bad", hm.segmentation_model(), DETECTION + IMAGE)
    with pytest.raises(ModelError, match=r"no output 'boxes' \(outputs: segmentation\)"):
        load_served_model(tmp_path, load_card(tmp_path, "bad"), None)


def test_detection_without_a_table_is_a_bad_card(tmp_path: Path) -> None:
    model_folder(tmp_path, "bad", hm.detection_model(), 'head = "detection"\n' + IMAGE)
    with pytest.raises(ModelError, match=r"needs a \[detection\] table"):
        load_card(tmp_path, "bad")


def test_a_text_model_with_two_outputs_explains_each(tmp_path: Path) -> None:
    folder = tmp_path / "two"
    folder.mkdir()
    hm.two_output_text_model().save(folder / "model.keras")
    (folder / "vocab.txt").write_text("\n".join(f"w{i}" for i in range(30)), encoding="utf-8")
    (folder / "topics.txt").write_text("a\nb\nc\n", encoding="utf-8")
    body = (
        'task = "text"\nmodel_file = "model.keras"\ndefault_output = "sentiment"\n'
        '[text]\nvocab_file = "vocab.txt"\nsequence_length = 10\n'
        '[outputs.sentiment]\nhead = "classifier"\n'
        '[outputs.topics]\nhead = "multilabel"\nlabels_file = "topics.txt"\n'
    )
    sm.write_card(folder, "two", body)
    served = load_served_model(tmp_path, load_card(tmp_path, "two"), None)
    ids = np.random.default_rng(0).integers(2, 30, (2, 10)).astype(np.int32)
    sentiment = served.gradcam(None).explain(ids, [1])
    topics = served.gradcam(None, output="topics").explain(ids, [Target(2)])
    model = keras.saving.load_model(folder / "model.keras")
    sentiment_p, topics_p = (t.numpy() for t in model(ids))
    np.testing.assert_allclose(sentiment.scores, sentiment_p[:, 1], rtol=1e-5)
    np.testing.assert_allclose(topics.scores, topics_p[:, 2], rtol=1e-5)
    assert served.labels_of("topics") == ("a", "b", "c")
    assert set(topics.outputs) == {"sentiment", "topics"}


def load_card(root: Path, model_id: str):  # type: ignore[no-untyped-def]
    from app.registry.card import read_card

    try:
        return read_card(root / model_id)
    except ModelError:
        raise
