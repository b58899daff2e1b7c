"""The method branches' methods on heads' region and box targets (the merge of both).

Saliency is checked against a direct tape of the head's score; integrated gradients and
occlusion against the same method on an oracle model whose one output IS the row's score
(as in test_head_methods); aug_smooth against a direct tape per view, where a flipped view
explains the mirrored region, or the mirrored predicted box matched again.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.engine.layers.graph import output_shapes
from app.engine.methods.blackbox import BlackBoxOptions
from app.engine.methods.options import CamOptions
from app.engine.methods.pixel.options import PixelOptions
from app.engine.runtime.gradcam import GradCam
from app.engine.runtime.views import AUGMENTED, combine_views, views_at_input
from app.engine.targets.rows import Target
from app.engine.targets.table import DetectionSpec, make_head
from app.errors import InvalidInput
from tests import head_models as hm
from tests.engine.conftest import round_trip

MASK = (np.random.default_rng(3).random((8, 8)) > 0.5).astype(np.float32)
CLASS = 2
BOX = (0.1, 0.2, 0.5, 0.7)
SPEC = DetectionSpec("boxes", "scores", "cxcywh", "normalized")
OCCLUSION = BlackBoxOptions(occlusion_window=4, occlusion_stride=2)


@pytest.fixture(scope="module")
def seg_model(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    return round_trip(hm.segmentation_model(), tmp_path_factory.mktemp("seg"))


@pytest.fixture(scope="module")
def det_model(tmp_path_factory: pytest.TempPathFactory) -> keras.Model:
    return round_trip(hm.detection_model(), tmp_path_factory.mktemp("det"))


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return hm.scenes(2, seed=7)[0]


def seg_cam(model: keras.Model, method: str, **options: bool) -> GradCam:
    head = make_head("segmentation", "segmentation", output_shapes(model))
    return GradCam(model, "feat", method=method, head=head, options=CamOptions(**options))


def det_cam(model: keras.Model, method: str, **options: bool) -> GradCam:
    head = make_head("detection", "scores", output_shapes(model), detection=SPEC)
    return GradCam(model, "feat", method=method, head=head, options=CamOptions(**options))


def region_logits(model: keras.Model, mask: np.ndarray) -> keras.Model:
    """The oracle: input -> (B, 1) the sum over `mask` of class CLASS's logit."""
    logits = model.get_layer("segmentation").input
    return keras.Model(model.inputs, keras.ops.sum(logits[..., CLASS : CLASS + 1] * mask[..., None],
                                                   axis=(1, 2)))  # fmt: skip


def box_logit(model: keras.Model, anchor: int, cls: int) -> keras.Model:
    """The oracle: input -> (B, 1) predicted box `anchor`'s class `cls` logit."""
    logits = model.get_layer("scores").input
    return keras.Model(model.inputs, logits[:, anchor, cls : cls + 1])


def blackbox_args(images: np.ndarray) -> dict[str, object]:
    return {
        "pixels": images * 255.0,
        "scaling": lambda p: (p / np.float32(255.0)).astype(np.float32),
        "blackbox": OCCLUSION,
    }


def test_saliency_of_a_region_is_the_tape_gradient_of_its_logit_sum(seg_model, images):
    found = seg_cam(seg_model, "saliency").explain(images, [Target(CLASS, region=MASK)])
    x = tf.constant(images)
    with tf.GradientTape() as tape:
        tape.watch(x)
        logits = seg_model.get_layer("segmentation").input
        score = tf.reduce_sum(keras.Model(seg_model.inputs, logits)(x)[..., CLASS] * MASK, [1, 2])
    expected = np.abs(tape.gradient(score, x).numpy()).max(axis=-1)
    np.testing.assert_allclose(found.cams, expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_array_equal(found.targets, [CLASS, CLASS])
    assert found.regions is not None and (found.regions == MASK.reshape(1, -1)).all()


def test_saliency_of_a_box_is_the_tape_gradient_of_its_class_logit(det_model, images):
    found = det_cam(det_model, "saliency").explain(images[:1], [Target(1, box=BOX)])
    anchor = int(found.anchors[0])
    x = tf.constant(images[:1])
    with tf.GradientTape() as tape:
        tape.watch(x)
        score = box_logit(det_model, anchor, 1)(x)[:, 0]
    expected = np.abs(tape.gradient(score, x).numpy()).max(axis=-1)
    np.testing.assert_allclose(found.cams, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["region", "box"])
def test_integrated_gradients_equals_the_oracles(seg_model, det_model, images, kind):
    options = PixelOptions(steps=8)
    if kind == "region":
        found = seg_cam(seg_model, "integrated-gradients").explain(
            images, [Target(CLASS, region=MASK)], pixel=options
        )
        oracle = region_logits(seg_model, MASK)
    else:
        found = det_cam(det_model, "integrated-gradients").explain(
            images, [Target(1, box=BOX)], pixel=options
        )
        assert len(set(found.anchors.tolist())) == 1  # the oracle takes one box for both
        oracle = box_logit(det_model, int(found.anchors[0]), 1)
    cam = GradCam(oracle, "feat", method="integrated-gradients")
    expected = cam.explain(images, [0], score="output", pixel=options)
    np.testing.assert_allclose(found.cams, expected.cams, rtol=2e-4, atol=1e-5)
    assert found.gaps is not None and expected.gaps is not None
    np.testing.assert_allclose(found.gaps, expected.gaps, rtol=1e-3, atol=1e-4)


def test_occlusion_of_a_region_equals_the_oracles(seg_model, images):
    found = seg_cam(seg_model, "occlusion").explain(
        images, [Target(CLASS, region=MASK)], **blackbox_args(images)
    )
    oracle = GradCam(region_logits(seg_model, MASK), "feat", method="occlusion")
    expected = oracle.explain(images, [0], score="output", **blackbox_args(images))
    np.testing.assert_allclose(found.cams, expected.cams, rtol=1e-4, atol=1e-5)
    assert found.cams.max() > 0


def test_occlusion_of_a_box_keeps_the_box_chosen_on_the_image(det_model, images):
    found = det_cam(det_model, "occlusion").explain(
        images[:1], [Target(1, box=BOX)], **blackbox_args(images[:1])
    )
    oracle = GradCam(box_logit(det_model, int(found.anchors[0]), 1), "feat", method="occlusion")
    expected = oracle.explain(images[:1], [0], score="output", **blackbox_args(images[:1]))
    np.testing.assert_allclose(found.cams, expected.cams, rtol=1e-4, atol=1e-5)


def mirrored(box: np.ndarray) -> np.ndarray:
    return np.array([1 - box[2], box[1], 1 - box[0], box[3]])


def numpy_iou(boxes: np.ndarray, box: np.ndarray) -> np.ndarray:
    low, high = np.maximum(boxes[:, :2], box[:2]), np.minimum(boxes[:, 2:], box[2:])
    inter = np.prod(np.clip(high - low, 0, None), axis=1)
    area = np.prod(boxes[:, 2:] - boxes[:, :2], axis=1)
    return inter / (area + np.prod(box[2:] - box[:2]) - inter)


def xyxy(boxes: np.ndarray) -> np.ndarray:
    cx, cy, w, h = boxes.T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def aug_smooth_by_tape(model, logit_of, images, score_of_view):
    """aug_smooth's map by a direct tape per view: `score_of_view(flip, logits, boxes)`."""
    raws = []
    for flip, factor in AUGMENTED:
        view = (images[:, :, ::-1] if flip else images) * np.float32(factor)
        boxes = model(view)[0].numpy() if isinstance(model.output, list) else None

        def score_fn(logits: tf.Tensor, flip: bool = flip, boxes: object = boxes) -> tf.Tensor:
            return score_of_view(flip, logits, boxes)

        _, raw = hm.tape_gradcam(model, "feat", [logit_of], np.ascontiguousarray(view), score_fn)
        raws.append(raw)
    maps = views_at_input(tf.constant(np.concatenate(raws)), tf.constant([16, 16]), AUGMENTED)
    return combine_views([maps.numpy()])


def test_aug_smooth_of_a_region_explains_the_mirrored_region_in_flipped_views(seg_model, images):
    found = seg_cam(seg_model, "gradcam", aug_smooth=True).explain(
        images, [Target(CLASS, region=MASK)]
    )

    def score(flip: bool, logits: tf.Tensor, _: object) -> tf.Tensor:
        mask = MASK[:, ::-1] if flip else MASK
        return tf.reduce_sum(logits[..., CLASS] * mask, axis=[1, 2])

    expected = aug_smooth_by_tape(seg_model, "segmentation", images, score)
    np.testing.assert_allclose(found.cams, expected, rtol=1e-4, atol=1e-5)
    assert found.cams.shape == (2, 16, 16)


def test_aug_smooth_of_a_box_matches_the_mirrored_box_in_flipped_views(det_model, images):
    found = det_cam(det_model, "gradcam", aug_smooth=True).explain(images[:1], [Target(1, box=BOX)])
    anchor = int(found.anchors[0])
    predicted = xyxy(det_model(images[:1])[0].numpy()[0])[anchor]

    def score(flip: bool, logits: tf.Tensor, boxes: np.ndarray) -> tf.Tensor:
        chosen = anchor
        if flip:
            chosen = int(np.argmax(numpy_iou(xyxy(boxes[0]), mirrored(predicted))))
        return logits[:, chosen, 1]

    expected = aug_smooth_by_tape(det_model, "scores", images[:1], score)
    np.testing.assert_allclose(found.cams, expected, rtol=1e-4, atol=1e-5)


def test_finercam_is_refused_on_a_segmentation_head(seg_model):
    with pytest.raises(InvalidInput, match="compares a classifier's classes"):
        seg_cam(seg_model, "finercam")
