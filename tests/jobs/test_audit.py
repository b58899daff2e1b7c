"""An audit on the bundled shapes model, each number checked against a direct computation
through the engine; the served model untouched by the randomisation; bad inputs named."""

import numpy as np
import pytest

from app.engine.evaluation.faithfulness import upsampled
from app.engine.evaluation.pointing import box_mask, energy_inside, pointing_hit
from app.engine.evaluation.randomization import cascade_layers
from app.engine.evaluation.road import road
from app.errors import InvalidInput
from app.jobs.audit import run_audit
from app.jobs.audit_inputs import AuditItem, AuditParameters, prepare_audit
from app.jobs.audit_summary import summarise
from app.jobs.manager import Cancelled, Job, Progress
from app.jobs.report import ReportData, render_report
from app.preprocess.image import ImageLimits

from .conftest import png


def progress() -> Progress:
    return Progress(Job("j", "audit", "shapes", "1", created=0.0))


def items(scenes, boxes=None) -> list[AuditItem]:
    uploads, labels, true_boxes = scenes
    boxes = true_boxes if boxes is None else boxes
    return [
        AuditItem(int(label), image=upload, box=tuple(float(v) for v in box))
        for upload, label, box in zip(uploads, labels, boxes, strict=True)
    ]


def audit_of(shapes, scenes, params, boxes=None):
    prepared = prepare_audit(shapes, items(scenes, boxes), params, ImageLimits())
    return prepared, run_audit(shapes, prepared, params, progress())


def test_pointing_and_energy_equal_their_definitions(shapes, scenes):
    params = AuditParameters(methods=("gradcam",), checks=("pointing", "energy-pointing"))
    prepared, records = audit_of(shapes, scenes, params)
    record = records["gradcam"]
    _, labels, boxes = scenes
    inputs = prepared.inputs
    cams = shapes.gradcam(None).explain(inputs, [[int(x)] for x in labels], score="logit")
    full = upsampled(cams.heatmaps, (64, 64))
    hits = [pointing_hit(m, box_mask(b, (64, 64), 15)) for m, b in zip(full, boxes, strict=True)]
    energy = [energy_inside(m, box_mask(b, (64, 64))) for m, b in zip(full, boxes, strict=True)]
    np.testing.assert_array_equal(record.per_instance["pointing"], np.array(hits, float))
    np.testing.assert_allclose(record.per_instance["energy_pointing"], energy, rtol=1e-6)
    result = summarise(records, prepared, shapes.labels)
    accuracy = np.mean(np.argmax(cams.predictions, axis=-1) == labels)
    assert result["accuracy"] == pytest.approx(accuracy)
    assert result["methods"]["gradcam"]["pointing"] == pytest.approx(np.mean(hits))
    assert set(result["classes"]) <= set(shapes.labels)


def test_road_equals_a_direct_call(shapes, scenes):
    """The audit's ROAD is `road` on the maps at the input size (noise from seed + chunk)."""
    few = tuple(part[:3] for part in scenes)
    params = AuditParameters(methods=("eigencam",), checks=("road",), seed=5)
    prepared, records = audit_of(shapes, few, params)
    cam = shapes.gradcam(None, "eigencam")
    cams = cam.explain(prepared.inputs, [[int(x)] for x in few[1]], score="logit")
    full = upsampled(cams.heatmaps, (64, 64))
    direct = road(cam.forward, prepared.inputs, full, few[1], seed=5)["road"]
    np.testing.assert_allclose(records["eigencam"].per_instance["road"], direct, rtol=1e-6)


def test_randomization_leaves_the_served_model_bit_equal(shapes, scenes):
    params = AuditParameters(methods=("gradcam",), checks=("randomization", "random-logit"))
    prepared = prepare_audit(shapes, items(scenes), params, ImageLimits())
    before = shapes.default_gradcam().forward(prepared.inputs)
    weights = [w.copy() for w in shapes.model.get_weights()]
    records = run_audit(shapes, prepared, params, progress())
    after = shapes.default_gradcam().forward(prepared.inputs)
    assert np.array_equal(before, after)
    for old, now in zip(weights, shapes.model.get_weights(), strict=True):
        assert np.array_equal(old, now)
    steps = records["gradcam"].steps
    assert [s.layer for s in steps] == [layer.name for layer in cascade_layers(shapes.model)]
    result = summarise(records, prepared, shapes.labels)["methods"]["gradcam"]
    assert result["randomization"]["final_spearman"] == steps[-1].spearman
    assert result["randomization"]["passed"] == (steps[-1].spearman < 0.5)
    assert -1 <= result["random_logit"]["ssim"] <= 1


def test_audits_reuse_the_versions_twin_and_trace_it_once(shapes, scenes):
    """A second audit resets the twin to the served weights (the same steps as the first)
    and adds no trace; a job that finds the twin busy gets a copy of its own, equal too."""
    from app.engine.compiled import TRACES
    from app.jobs.twins import randomizable

    few = tuple(part[:4] for part in scenes)
    params = AuditParameters(methods=("gradcam",), checks=("randomization",), seed=3)
    first = audit_of(shapes, few, params)[1]["gradcam"].steps
    traced = TRACES.count
    second = audit_of(shapes, few, params)[1]["gradcam"].steps
    assert TRACES.count == traced
    assert second == first
    cam = shapes.gradcam(None)
    with randomizable(shapes, (cam.layer, "gradcam", cam.head), lambda copy: cam) as (twin, _):
        busy = audit_of(shapes, few, params)[1]["gradcam"].steps
        assert busy == first
        assert twin is not shapes.model


def test_pixel_methods_in_an_audit_repeat_and_equal_the_apis(shapes, scenes):
    """SmoothGrad's noise comes from the audit's seed (two audits agree to the bit; another
    seed differs); Integrated Gradients equals the engine's with the baselines the API
    builds (black pixels, scaled; on shapes' unit scaling that is zeros)."""
    few = tuple(part[:4] for part in scenes)
    checks = ("energy-pointing",)
    params = AuditParameters(methods=("smoothgrad", "integrated-gradients"), checks=checks)
    prepared, first = audit_of(shapes, few, params)
    again = audit_of(shapes, few, params)[1]
    other = audit_of(shapes, few, AuditParameters(methods=("smoothgrad",), checks=checks, seed=9))
    energy = {name: record.per_instance["energy_pointing"] for name, record in first.items()}
    np.testing.assert_array_equal(again["smoothgrad"].per_instance["energy_pointing"],
                                  energy["smoothgrad"])  # fmt: skip
    assert not np.array_equal(other[1]["smoothgrad"].per_instance["energy_pointing"],
                              energy["smoothgrad"])  # fmt: skip
    cam = shapes.gradcam(None, "integrated-gradients")
    pixels = prepared.pixels
    from app.engine.methods.pixel.options import PixelOptions

    direct = cam.explain(
        prepared.inputs,
        [[int(x)] for x in few[1]],
        score="logit",
        baselines=cam.baselines(PixelOptions(), pixels, shapes.scaling),
    )
    full = upsampled(direct.heatmaps, (64, 64))
    boxes = few[2]
    expected = [energy_inside(m, box_mask(b, (64, 64))) for m, b in zip(full, boxes, strict=True)]
    np.testing.assert_allclose(energy["integrated-gradients"], expected, rtol=1e-5)


def test_a_box_beside_the_object_is_flagged_and_shown_in_the_report(shapes, scenes):
    labels = scenes[1]
    corner = np.array([[0, 0, 6, 6]] * len(labels))  # the shapes are 14..30 px, elsewhere
    params = AuditParameters(methods=("gradcam",), checks=("energy-pointing",))
    prepared, records = audit_of(shapes, scenes, params, corner)
    result = summarise(records, prepared, shapes.labels)
    flagged = [f for f in result["flags"] if f["kind"] == "outside-box"]
    assert len(flagged) >= len(labels) // 2
    data = ReportData(
        "shapes",
        "1",
        shapes.labels,
        prepared.labels,
        prepared.names,
        prepared.thumbnails,
        records,
        result,
    )
    page = render_report(data)
    assert page.startswith("<!doctype html>") and "data:image/png;base64," in page
    assert "Least mass inside the box" in page and "http://" not in page and "https://" not in page


def test_cancel_stops_between_chunks(shapes, scenes):
    params = AuditParameters(checks=("pointing",))
    prepared = prepare_audit(shapes, items(scenes), params, ImageLimits())
    tracker = progress()
    tracker._job.cancel_requested.set()
    with pytest.raises(Cancelled):
        run_audit(shapes, prepared, params, tracker)
    assert tracker._job.done == 8  # the first chunk, then the cancel was seen


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"label": 9}, r"instances\[1\]\.label 9 is out of range"),
        ({"box": (10.0, 10.0, 5.0, 20.0)}, r"instances\[1\]\.box"),
        ({"box": (0.0, 0.0, 65.0, 10.0)}, r"instances\[1\]\.box"),
        ({"box": None}, r"instances\[1\] has no box or mask"),
        ({"box": None, "mask": png(np.zeros((8, 8), np.uint8))}, r"instances\[1\]\.mask is 8x8"),
        (
            {"box": None, "mask": png(np.zeros((64, 64), np.uint8))},
            r"instances\[1\]\.mask is empty",
        ),
        ({"box": None, "mask": b"not a png"}, r"instances\[1\]\.mask is not a PNG"),
        ({"image": b"not an image"}, r"instances\[1\]: "),
    ],
)
def test_bad_instances_are_named(shapes, scenes, change, message):
    given = items(scenes)[:3]
    given[1] = AuditItem(**{**given[1].__dict__, **change})
    with pytest.raises(InvalidInput if "image" not in change else Exception, match=message):
        prepare_audit(shapes, given, AuditParameters(), ImageLimits())


def test_a_mask_counts_like_a_box(shapes, scenes):
    uploads, labels, boxes = scenes
    x0, y0, x1, y1 = boxes[0]
    mask = np.zeros((64, 64), np.uint8)
    mask[y0:y1, x0:x1] = 255
    params = AuditParameters(checks=("pointing", "energy-pointing"))
    with_box = prepare_audit(shapes, items(scenes)[:1], params, ImageLimits())
    with_mask = prepare_audit(
        shapes, [AuditItem(int(labels[0]), image=uploads[0], mask=png(mask))], params, ImageLimits()
    )
    assert np.array_equal(with_box.regions, with_mask.regions)


def test_checks_that_do_not_fit_the_model_are_refused(shapes, scenes):
    with pytest.raises(InvalidInput, match="not available"):
        prepare_audit(
            shapes, items(scenes), AuditParameters(methods=("attention-rollout",)), ImageLimits()
        )
    with pytest.raises(InvalidInput, match="unknown check"):
        prepare_audit(shapes, items(scenes), AuditParameters(checks=("nope",)), ImageLimits())


def test_the_schema_names_the_checks_the_audit_knows():
    from typing import get_args

    from app.api.audit_schemas import CheckName
    from app.jobs.audit_inputs import CHECKS

    assert get_args(CheckName) == CHECKS
