"""Every kind of method scores a head's row as a classifier would score that row's score.

The oracle: a Keras model whose one output IS the row's score (the region sum of the
class's logit map, one box's class logit), explained as a classifier. Score-CAM and
Ablation-CAM must then give the same maps (the same score on the perturbed input), and
the faithfulness scores the same values (f of a masked image: the region sum of the
probabilities, the box's probability).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from app.engine.evaluation.faithfulness import faithfulness
from app.engine.layers.graph import output_shapes
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.rows import Target
from app.engine.targets.table import DetectionSpec, make_head
from tests import head_models as hm
from tests.engine.conftest import round_trip
from tests.engine.vit_models import tiny_vit

MASK = (np.random.default_rng(3).random((8, 8)) > 0.5).astype(np.float32)
CLASS = 2


@pytest.fixture(scope="module")
def seg_model(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    return round_trip(hm.segmentation_model(), tmp_path_factory.mktemp("seg"))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return hm.scenes(2, seed=7)[0]


def region_score_model(model: keras.Model, of_logits: bool) -> keras.Model:
    """`model`'s input -> (B, 1): sum over MASK of class CLASS's logit (or probability)."""
    layer = model.get_layer("segmentation")
    values = layer.input if of_logits else layer.output
    score = keras.ops.sum(values[..., CLASS] * MASK, axis=(1, 2))
    return keras.Model(model.inputs, keras.ops.expand_dims(score, -1))


def seg_cam(model: keras.Model, method: str) -> GradCam:
    head = make_head("segmentation", "segmentation", output_shapes(model))
    return GradCam(model, "feat", method=method, head=head)


@pytest.mark.parametrize("method", ["gradcam", "gradcam++", "scorecam", "ablationcam"])
def test_region_target_equals_its_score_as_a_classifier(seg_model, images, method):
    found = seg_cam(seg_model, method).explain(images, [Target(CLASS, region=MASK)])
    oracle = GradCam(region_score_model(seg_model, of_logits=True), "feat", method=method)
    expected = oracle.explain(images, [0], score="output")
    np.testing.assert_allclose(found.cams, expected.cams, rtol=2e-4, atol=1e-5)


def test_faithfulness_scores_the_region(seg_model, images):
    cam = seg_cam(seg_model, "gradcam")
    found = cam.explain(images, [Target(CLASS, region=MASK)])
    metrics = ("deletion", "insertion", "drop")
    pixels = images * 255.0
    scored = cam.add_metrics(found, pixels, lambda p: p / np.float32(255.0), metrics, steps=4)
    oracle = region_score_model(seg_model, of_logits=False)
    expected = faithfulness(
        lambda x: oracle(x).numpy(), lambda p: p / np.float32(255.0), pixels, found.sample,
        np.zeros(len(found.sample), np.int64), found.scores, found.heatmaps, metrics, 4,
    )  # fmt: skip
    for name in metrics:
        np.testing.assert_allclose(scored.metrics[name], expected[name], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method", ["gradcam", "scorecam", "ablationcam"])
def test_box_target_equals_its_box_score_as_a_classifier(tmp_path, images, method):
    model = round_trip(hm.detection_model(), tmp_path)
    spec = DetectionSpec("boxes", "scores", "cxcywh", "normalized")
    head = make_head("detection", "scores", output_shapes(model), detection=spec)
    found = GradCam(model, "feat", method=method, head=head).explain(
        images[:1], [Target(1, box=(0.1, 0.2, 0.5, 0.7))]
    )
    anchor = int(found.anchors[0])
    logits = model.get_layer("scores").input
    oracle_model = keras.Model(model.inputs, logits[:, anchor, 1:2])
    expected = GradCam(oracle_model, "feat", method=method).explain(images[:1], [0], score="output")
    np.testing.assert_allclose(found.cams, expected.cams, rtol=2e-4, atol=1e-5)


def test_attention_gradcam_scores_a_second_outputs_label():
    """A transformer with two outputs: attention-gradcam of label 2 of its multilabel
    `tags` output equals that of a model whose one output is that label's logit."""
    vit = tiny_vit()
    features = vit.get_layer("features").output
    logits = keras.layers.Dense(4, name="tag_logits")(features)
    tags = keras.layers.Activation("sigmoid", name="tags")(logits)
    model = keras.Model(vit.inputs, [vit.output, tags])
    images = np.random.default_rng(1).random((2, 16, 24, 3), dtype=np.float32)
    head = make_head("multilabel", "tags", output_shapes(model))
    found = GradCam(model, "b2_out", method="attention-gradcam", head=head).explain(images, [2])
    oracle = keras.Model(vit.inputs, logits[:, 2:3])
    expected = GradCam(oracle, "b2_out", method="attention-gradcam").explain(
        images, [0], score="output"
    )
    np.testing.assert_allclose(found.cams, expected.cams, rtol=2e-4, atol=1e-6)
    assert found.cams.max() > 0
