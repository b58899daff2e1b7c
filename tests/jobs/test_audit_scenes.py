"""Audits of the segmentation and detection heads (`shapes_seg`, `shapes_det`): each
instance explains its own object (its class over its mask; its class on the predicted
box that best overlaps its box), equal to a request's region and box targets; the
accuracy asks for the object's class; the instances those heads need are named when
missing; black-box methods and ROAD run on them."""

import numpy as np
import pytest

from app.engine.evaluation.faithfulness import upsampled
from app.engine.evaluation.head_scores import head_row_score
from app.engine.evaluation.pointing import energy_inside
from app.engine.evaluation.road import road
from app.engine.targets.rows import Target
from app.errors import InvalidInput
from app.jobs.audit import run_audit
from app.jobs.audit_inputs import AuditItem, AuditParameters, prepare_audit
from app.jobs.audit_summary import summarise
from app.jobs.manager import Job, Progress
from app.preprocess.image import ImageLimits
from bench.audit_scenes import scene_items
from training.shapes_scenes import make_scenes

# Used by neither training (2026, 2027), the READMEs (12345, 12346), the models' tests
# (31337) nor docs/audit.md (9191).
SEED = 27_271


def progress() -> Progress:
    return Progress(Job("j", "audit", "m", "1", created=0.0))


def own_regions(n: int = 4) -> tuple[list[int], list[np.ndarray], list[tuple[int, ...]]]:
    """Per object of the scenes `scene_items` makes: scene index, own mask, box."""
    scenes = make_scenes(n, SEED)
    found: tuple[list, list, list] = ([], [], [])
    for scene in range(n):
        for cls, box in scenes.objects(scene):
            x0, y0, x1, y1 = (int(v) for v in box)
            own = np.zeros((64, 64), bool)
            own[y0:y1, x0:x1] = scenes.masks[scene, y0:y1, x0:x1] == cls + 1
            found[0].append(scene)
            found[1].append(own)
            found[2].append((x0, y0, x1, y1))
    return found


def audited(served, model, params, n=4):
    items = scene_items(model, n, SEED)
    prepared = prepare_audit(served, items, params, ImageLimits())
    return items, prepared, run_audit(served, prepared, params, progress())


@pytest.mark.parametrize("method", ["hirescam", "gradcam"])
def test_a_segmentation_instance_explains_its_own_region(shapes_seg, method):
    params = AuditParameters(methods=(method,), checks=("pointing", "energy-pointing"))
    items, prepared, records = audited(shapes_seg, "shapes_seg", params)
    _, masks, _ = own_regions()
    cam = shapes_seg.gradcam(None, method)
    direct = cam.explain(
        prepared.inputs,
        [[Target(item.label, region=mask)] for item, mask in zip(items, masks, strict=True)],
        score="logit",
    )
    np.testing.assert_allclose(records[method].heatmaps, direct.heatmaps, atol=1e-6)
    energy = [energy_inside(m, r) for m, r in zip(direct.heatmaps, masks, strict=True)]
    np.testing.assert_allclose(records[method].per_instance["energy_pointing"], energy, atol=1e-6)
    if method == "hirescam":  # the 1x1 head: its gradient lies on the region alone
        assert min(energy) > 0.99
    result = summarise(records, prepared, shapes_seg.labels)
    assert result["accuracy"] == 1.0  # the class of each object's pixels, not the image's


def box_maps(cam, items, prepared):
    """The engine's maps for each item's class on its own box (normalised, as the API)."""
    boxes = [tuple(v / 64 for v in item.box) for item in items]
    targets = [[Target(item.label, box=box)] for item, box in zip(items, boxes, strict=True)]
    return cam.explain(prepared.inputs, targets, score="logit")


def test_a_detection_instance_explains_the_box_matching_its_own(shapes_det):
    params = AuditParameters(methods=("hirescam",), checks=("pointing",))
    items, prepared, records = audited(shapes_det, "shapes_det", params)
    cam = shapes_det.gradcam(None, "hirescam")
    direct = box_maps(cam, items, prepared)
    np.testing.assert_allclose(records["hirescam"].heatmaps, direct.heatmaps, atol=1e-6)
    assert np.all(direct.quality >= 0.5)  # each box matched a predicted one
    # Objects of the same scene explain different predicted boxes.
    scene_of, _, _ = own_regions()
    for scene in set(scene_of):
        rows = [i for i, s in enumerate(scene_of) if s == scene]
        assert len(set(direct.anchors[rows].tolist())) == len(rows)


def test_the_accuracy_asks_for_each_objects_class(shapes_det, shapes_seg):
    for served, model in ((shapes_seg, "shapes_seg"), (shapes_det, "shapes_det")):
        items = scene_items(model, 4, SEED)
        first = items[0]
        wrong = (
            (first.label % (served.n_classes - 1)) + 1
            if model == "shapes_seg"
            else ((first.label + 1) % served.n_classes)
        )
        items[0] = AuditItem(wrong, image=first.image, box=first.box, mask=first.mask)
        params = AuditParameters(checks=("pointing",))
        prepared = prepare_audit(served, items, params, ImageLimits())
        result = summarise(run_audit(served, prepared, params, progress()), prepared, served.labels)
        assert result["accuracy"] == pytest.approx((len(items) - 1) / len(items)), model


def test_instances_those_heads_need_are_named(shapes_det, shapes_seg):
    det = scene_items("shapes_det", 2, SEED)
    det[1] = AuditItem(det[1].label, image=det[1].image)
    params = AuditParameters(checks=("random-logit",))
    with pytest.raises(InvalidInput, match=r"instances\[1\] has no box or mask; a detection"):
        prepare_audit(shapes_det, det, params, ImageLimits())
    seg = scene_items("shapes_seg", 2, SEED)
    seg[1] = AuditItem(seg[1].label, image=seg[1].image)
    with pytest.raises(InvalidInput, match=r"instances\[1\] has no box or mask; on a segm"):
        prepare_audit(shapes_seg, seg, params, ImageLimits())
    none = [AuditItem(item.label, image=item.image) for item in seg]  # the predicted pixels
    assert prepare_audit(shapes_seg, none, params, ImageLimits()).target_regions is None
    with pytest.raises(InvalidInput, match="finercam compares a classifier's classes"):
        prepare_audit(shapes_seg, seg, AuditParameters(methods=("finercam",)), ImageLimits())


def test_road_scores_each_objects_head_score_and_occlusion_runs(shapes_det):
    params = AuditParameters(methods=("gradcam", "occlusion"), checks=("road", "pointing"))
    items, prepared, records = audited(shapes_det, "shapes_det", params, n=2)
    cam = shapes_det.gradcam(None, "gradcam")
    cams = box_maps(cam, items, prepared)
    direct = road(
        cam.forward,
        prepared.inputs,
        upsampled(cams.heatmaps, (64, 64)),
        cams.targets,
        seed=0,
        row_score=head_row_score(cam.forward, cam.head, cams),
    )["road"]
    np.testing.assert_allclose(records["gradcam"].per_instance["road"], direct, rtol=1e-5)
    assert len(records["occlusion"].per_instance["pointing"]) == len(items)
    assert records["occlusion"].heatmaps.shape == (len(items), 64, 64)


def test_the_report_outlines_each_worst_instances_object():
    from PIL import Image

    from app.jobs.report import outlined

    region = np.zeros((8, 8), bool)
    region[2:6, 2:6] = True
    drawn = np.asarray(outlined(Image.new("RGB", (16, 16)), region))
    white = drawn.min(axis=-1) == 255
    assert white[4, 4:12].all() and white[4:12, 4].all() and white[11, 4:12].all()
    assert not white[5:11, 5:11].any() and not white[:4].any() and not white[12:].any()


def test_a_classifier_still_takes_boxes_on_some_instances(shapes, scenes):
    """Without a pointing check a box is optional on a classifier (the all-or-none rule is
    the segmentation head's)."""
    uploads, labels, boxes = scenes
    given = [
        AuditItem(int(labels[0]), image=uploads[0], box=tuple(float(v) for v in boxes[0])),
        AuditItem(int(labels[1]), image=uploads[1]),
    ]
    prepared = prepare_audit(
        shapes, given, AuditParameters(checks=("random-logit",)), ImageLimits()
    )
    assert prepared.regions is None and prepared.target_boxes is None
