"""Heads on SavedModels (the signature's output keys) give the Keras model's maps."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.layers.graph import output_shapes
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.rows import Target
from app.engine.targets.table import DetectionSpec, make_head
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import load_saved_model
from app.registry.heads import model_output_shapes
from tests import head_models as hm
from tests import savedmodels as sm

MASK = (np.random.default_rng(4).random((8, 8)) > 0.5).astype(np.float32)


def card(**fields: object) -> ModelCard:
    return ModelCard.model_validate(
        {"id": "m", "task": "image", "model_file": "sm", "image": {"size": (16, 16)}, **fields}
    )


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return hm.scenes(2, seed=9)[0]


def test_segmentation_savedmodel(tmp_path: Path, images: np.ndarray) -> None:
    model = hm.segmentation_model()
    frozen = load_saved_model(sm.export_keras3(model, tmp_path / "seg"), card(head="segmentation"))
    (key,) = frozen.outputs
    frozen_head = make_head("segmentation", key, model_output_shapes(frozen))
    keras_head = make_head("segmentation", "segmentation", output_shapes(model))
    targets = [Target(3, region=MASK), 1]
    found = GradCam(frozen, "feat", head=frozen_head).explain(images, targets)
    expected = GradCam(model, "feat", head=keras_head).explain(images, targets)
    np.testing.assert_allclose(found.cams, expected.cams, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(found.scores, expected.scores, rtol=1e-5)
    np.testing.assert_array_equal(found.regions, expected.regions)


def test_detection_savedmodel_by_output_keys(tmp_path: Path, images: np.ndarray) -> None:
    inner = hm.detection_model()
    # Named outputs: the signature's keys are the dict's keys.
    model = keras.Model(inner.inputs, {"boxes": inner.outputs[0], "scores": inner.outputs[1]})
    detection = {"boxes_output": "boxes", "scores_output": "scores", "box_format": "cxcywh"}
    frozen = load_saved_model(
        sm.export_keras3(model, tmp_path / "det"), card(head="detection", detection=detection)
    )
    assert set(frozen.outputs) == {"boxes", "scores"}
    spec = DetectionSpec("boxes", "scores", "cxcywh", "normalized")
    heads = [
        make_head("detection", "scores", shapes, detection=spec)
        for shapes in (model_output_shapes(frozen), output_shapes(model))
    ]
    targets = [Target(2, box=(0.3, 0.1, 0.8, 0.6))]
    found = GradCam(frozen, "feat", head=heads[0]).explain(images, targets)
    expected = GradCam(model, "feat", head=heads[1]).explain(images, targets)
    np.testing.assert_array_equal(found.anchors, expected.anchors)
    np.testing.assert_allclose(found.cams, expected.cams, rtol=1e-4, atol=1e-5)
    defaults = GradCam(frozen, "feat", head=heads[0], method="ablationcam").explain(images)
    keras_defaults = GradCam(model, "feat", head=heads[1], method="ablationcam").explain(images)
    np.testing.assert_array_equal(defaults.anchors, keras_defaults.anchors)
    np.testing.assert_allclose(defaults.cams, keras_defaults.cams, rtol=1e-3, atol=1e-5)
