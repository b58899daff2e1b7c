"""Each head's score and its Grad-CAM against a direct tape computation (Keras files)."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.engine.layers.graph import output_shapes
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.boxes import iou, to_xyxy
from app.engine.targets.rows import Target
from app.engine.targets.table import DetectionSpec, HeadMismatch, make_head
from app.errors import TargetNotTaken
from tests import head_models as hm
from tests.engine.conftest import round_trip

DET_SPEC = DetectionSpec("boxes", "scores", "cxcywh", "normalized", 0.5, 0.5)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("heads")


@pytest.fixture(scope="module")
def seg_model(folder: Path) -> keras.Model:
    return round_trip(hm.segmentation_model(), folder)


@pytest.fixture(scope="module")
def det_model(folder: Path) -> keras.Model:
    return round_trip(hm.detection_model(), folder)


@pytest.fixture
def images() -> np.ndarray:
    return hm.scenes(3, seed=5)[0]


def head_of(model: keras.Model, kind: str, output: str) -> GradCam:
    head = make_head(kind, output, output_shapes(model), input_size=(16, 16), detection=DET_SPEC)
    return GradCam(model, "feat", head=head)


def region_mask(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((8, 8)) > 0.6).astype(np.uint8)


def test_segmentation_region_equals_semantic_segmentation_target(seg_model, images):
    """sum over the region of the class's logit map (pytorch-grad-cam's
    SemanticSegmentationTarget on the pre-softmax output)."""
    mask = region_mask()
    cam = head_of(seg_model, "segmentation", "segmentation")
    found = cam.explain(images, [Target(2, region=mask)])
    score, reference = hm.tape_gradcam(
        seg_model, "feat", ["segmentation"], images,
        lambda logits: tf.reduce_sum(logits[..., 2] * mask, axis=[1, 2]),
    )  # fmt: skip
    np.testing.assert_allclose(found.cams, reference, rtol=1e-4, atol=1e-6)
    probabilities = seg_model(images).numpy()
    np.testing.assert_allclose(
        found.scores, (probabilities[..., 2] * mask).sum(axis=(1, 2)), rtol=1e-5
    )
    assert (found.quality == mask.sum()).all()
    assert score.shape == (3,)


def test_segmentation_without_mask_is_the_predicted_region(images):
    model = hm.trained_segmentation_model(epochs=15)
    cam = head_of(model, "segmentation", "segmentation")
    labels = model(images).numpy().argmax(axis=-1)
    target = int(np.bincount(labels.ravel(), minlength=5)[1:].argmax() + 1)
    found = cam.explain(images, [target])
    predicted = (labels == target).astype(np.float32)
    np.testing.assert_array_equal(found.regions.reshape(predicted.shape), predicted)
    _, reference = hm.tape_gradcam(
        model, "feat", ["segmentation"], images,
        lambda logits: tf.reduce_sum(logits[..., target] * predicted, axis=[1, 2]),
    )  # fmt: skip
    np.testing.assert_allclose(found.cams, reference, rtol=1e-4, atol=1e-6)


def test_detection_box_scores_the_best_overlapping_prediction(det_model, images):
    """The class logit of the predicted box with the highest IoU with the given box."""
    boxes, _ = (t.numpy() for t in det_model(images))
    predicted = to_xyxy(tf.constant(boxes), "cxcywh").numpy()
    given = np.clip(predicted[0, 6] + [0.01, -0.01, 0.02, 0.0], 0, 1)
    cam = head_of(det_model, "detection", "scores")
    found = cam.explain(images[:1], [Target(3, box=tuple(given))])
    overlaps = iou(tf.constant(predicted[:1]), tf.constant(given[None], tf.float32)).numpy()[0]
    best = int(overlaps.argmax())
    assert found.anchors[0] == best
    np.testing.assert_allclose(found.quality[0], overlaps[best], rtol=1e-5)
    _, reference = hm.tape_gradcam(
        det_model, "feat", ["scores"], images[:1], lambda logits: logits[:, best, 3]
    )
    np.testing.assert_allclose(found.cams, reference, rtol=1e-4, atol=1e-6)


def test_detection_default_targets_are_the_detections_after_nms(det_model, images):
    cam = head_of(det_model, "detection", "scores")
    scores = det_model(images)[1].numpy()
    found = cam.explain(images)
    for b in range(len(images)):
        rows = found.sample == b
        kept = scores[b].max(axis=-1) >= 0.5
        if not kept.any():  # none passes: the best box
            assert found.anchors[rows].tolist() == [int(scores[b].max(axis=-1).argmax())]
            continue
        assert set(found.anchors[rows]) <= set(np.flatnonzero(kept))
        for anchor, target in zip(found.anchors[rows], found.targets[rows], strict=True):
            assert target == scores[b, anchor].argmax()


@pytest.mark.parametrize("kind", ["multilabel", "regression"])
def test_vector_heads_score_the_logit(folder, images, kind):
    model = round_trip(hm.vector_model(kind), folder)
    output = "labels" if kind == "multilabel" else "values"
    cam = head_of(model, kind, output)
    found = cam.explain(images, [1])
    logit_of = ["labels"] if kind == "multilabel" else []
    if kind == "multilabel":
        _, reference = hm.tape_gradcam(model, "feat", logit_of, images, lambda x: x[:, 1])
    else:  # a linear output is its own logit
        sub = keras.Model(model.inputs, [model.get_layer("feat").output, model.output])
        with tf.GradientTape() as tape:
            activations, values = sub(tf.constant(images))
            score = values[:, 1]
        weights = tf.reduce_mean(tape.gradient(score, activations), axis=[1, 2])
        reference = tf.nn.relu(tf.einsum("bhwc,bc->bhw", activations, weights)).numpy()
    np.testing.assert_allclose(found.cams, reference, rtol=1e-4, atol=1e-6)


def test_multilabel_default_targets(folder, images):
    model = round_trip(hm.vector_model("multilabel"), folder)
    cam = head_of(model, "multilabel", "labels")
    probabilities = model(images).numpy()
    found = cam.explain(images)
    for b, p in enumerate(probabilities):
        expected = np.flatnonzero(p >= 0.5).tolist() or [int(p.argmax())]
        assert found.targets[found.sample == b].tolist() == expected


def test_regression_defaults_to_every_value(folder, images):
    model = round_trip(hm.vector_model("regression"), folder)
    found = head_of(model, "regression", "values").explain(images[:1])
    assert found.targets.tolist() == [0, 1]
    np.testing.assert_allclose(found.scores, model(images[:1]).numpy()[0], rtol=1e-5)


def test_object_targets_on_a_head_that_does_not_take_them(seg_model, det_model, images):
    with pytest.raises(TargetNotTaken):
        head_of(seg_model, "segmentation", "segmentation").explain(
            images, [Target(1, box=(0, 0, 1, 1))]
        )
    with pytest.raises(TargetNotTaken):
        head_of(det_model, "detection", "scores").explain(images, [Target(1, region=region_mask())])


def test_heads_that_contradict_the_outputs_are_refused(seg_model, det_model):
    with pytest.raises(HeadMismatch, match=r"segmentation needs a \(batch, height, width"):
        make_head("segmentation", "boxes", output_shapes(det_model))
    with pytest.raises(HeadMismatch, match="no output 'boxes'"):
        make_head("detection", "scores", output_shapes(seg_model), detection=DET_SPEC)
    with pytest.raises(HeadMismatch, match=r"needs a \(batch, n\) output"):
        make_head("classifier", "segmentation", output_shapes(seg_model))


def test_one_trace_for_class_region_and_box_rows(seg_model, det_model, images):
    seg = head_of(seg_model, "segmentation", "segmentation")
    seg.explain(images, [1])
    seg.explain(images[:2], [Target(2, region=region_mask()), 3])
    seg.explain(images[:1])
    det = head_of(det_model, "detection", "scores")
    det.explain(images[:1], [Target(1, box=(0.1, 0.1, 0.6, 0.6))])
    det.explain(images, [0, Target(box=(0.2, 0.2, 0.5, 0.9))])
    assert seg.trace_count == 1
    assert det.trace_count == 1
