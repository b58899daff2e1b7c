"""One audit: every method's maps for the labelled instances and the checks asked for,
through the served model's compiled explainers (the same engine as requests), a chunk of
instances at a time so that progress and a cancel are seen between chunks.

The randomisation check runs on a copy of the model (`twins`), explained by a
compiled explainer of its own without BatchNormalization folding (folded weights are
copies taken once, so they would not follow the re-drawn weights); the served model
is only read. Image maps are compared at the model input's size (bilinear, as the
pointing game resizes them); text maps at their tokens.

On a segmentation or detection head each instance explains its own object (its class
over its region, or on the predicted box matching its box: `PreparedAudit.target_regions`,
`target_boxes`), and `predictions` are the head's scores for that object (the mean
probability of each class over the region; the matched box's class probabilities), so the
accuracy asks whether the model labels the object, not the whole image.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from app.engine.capture.keras.fold import FoldPlan
from app.engine.evaluation.faithfulness import upsampled
from app.engine.evaluation.head_scores import head_row_score
from app.engine.evaluation.pointing import energy_inside, pointing_hit
from app.engine.evaluation.randomization import (
    Step,
    cascade,
    cascade_layers,
    other_classes,
)
from app.engine.evaluation.road import road
from app.engine.evaluation.similarity import ssim
from app.engine.methods import DEFAULT_MAX_CHANNELS
from app.engine.methods.pixel.options import PixelOptions
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.heads import Head
from app.engine.targets.results import CamBatch
from app.engine.targets.rows import Target
from app.jobs.audit_inputs import AuditParameters, PreparedAudit
from app.jobs.manager import Progress
from app.jobs.twins import randomizable
from app.registry.served import ServedModel

CHUNK = 8  # instances per compiled call; progress and cancel are checked between chunks


@dataclass
class MethodRecord:
    """What one method's audit measured, per instance (N,) unless said otherwise."""

    heatmaps: np.ndarray  # (N, *spatial) at the layer's resolution, for the report
    predictions: np.ndarray  # (N, n_classes) for each instance's object (`explained_scores`)
    class_sums: dict[int, np.ndarray] = field(default_factory=dict)  # label -> summed map
    per_instance: dict[str, np.ndarray] = field(default_factory=dict)  # check -> (N,)
    steps: list[Step] | None = None  # randomisation, one per layer


def work_units(model: object, audit: PreparedAudit, params: AuditParameters) -> int:
    """Instances to go through over the whole audit: the progress total."""
    count = len(audit.labels)
    passes = 1 + sum(
        check in params.checks for check in ("deletion", "insertion", "road", "random-logit")
    )
    if "randomization" in params.checks:
        passes += len(cascade_layers(model))
    return count * passes * len(params.methods)


def run_audit(
    served: ServedModel, audit: PreparedAudit, params: AuditParameters, progress: Progress
) -> dict[str, MethodRecord]:
    progress.set_total(work_units(served.model, audit, params))
    return {
        method: audit_method(served, audit, params, method, progress) for method in params.methods
    }


def explain_labels(
    cam: GradCam,
    served: ServedModel,
    audit: PreparedAudit,
    rows: slice,
    labels: np.ndarray,
    params: AuditParameters,
) -> CamBatch:
    """The maps of the instances `rows`, each for its entry of `labels` (the instance's
    label, or another class for random-logit) on the instance's own object. The images'
    pixels go along for the black-box methods (occlusion, RISE), which perturb them, and
    for Integrated Gradients' black baseline. SmoothGrad's noise is seeded by the audit's
    seed and the rows' place in the whole set: an audit repeats, and on Ray too."""
    pixels = None if audit.pixels is None else audit.pixels[rows]
    pixel = PixelOptions(seed=params.seed + audit.offset + rows.start)
    return cam.explain(
        audit.inputs[rows],
        row_targets(audit, rows, labels),
        score=served.card.score,
        max_channels=params.max_channels or DEFAULT_MAX_CHANNELS,
        pixel=pixel,
        baselines=None if pixels is None else cam.baselines(pixel, pixels, served.scaling),
        pixels=pixels,
        scaling=served.scaling,
    )


def row_targets(audit: PreparedAudit, rows: slice, labels: np.ndarray) -> list[list[int | Target]]:
    """One target per instance: `labels[i]` over its region (segmentation), on its box
    (detection), else the class alone."""
    if audit.target_regions is not None:
        regions = audit.target_regions[rows]
        return [
            [Target(int(label), region=region)]
            for label, region in zip(labels, regions, strict=True)
        ]
    if audit.target_boxes is not None:
        boxes = audit.target_boxes[rows]
        return [
            [Target(int(label), box=tuple(float(v) for v in box))]  # type: ignore[arg-type]
            for label, box in zip(labels, boxes, strict=True)
        ]
    return [[int(label)] for label in labels]


def dense(head: Head) -> bool:
    """A head whose rows explain one object of the image (a region, a box)."""
    return head.kind in ("segmentation", "detection")


def explained_scores(cams: CamBatch) -> np.ndarray:
    """`(N, n_classes)` per map: the head's scores for the object it explains: the
    sample's predictions; segmentation: each class's mean probability over the row's
    region; detection: the class probabilities of the row's predicted box."""
    head = cams.head
    if head is None or not dense(head):
        return np.asarray(np.asarray(cams.predictions)[cams.sample])
    out = np.asarray(cams.outputs[head.output], np.float64)[cams.sample]
    if head.kind == "detection":
        assert cams.anchors is not None
        return np.asarray(out[np.arange(len(out)), cams.anchors])
    assert cams.regions is not None
    flat = out.reshape(len(out), -1, out.shape[-1])
    region = np.asarray(cams.regions, np.float64)
    pixels = np.maximum(region.sum(axis=1), 1.0)
    return np.asarray(np.einsum("np,npc->nc", region, flat) / pixels[:, None])


def at_input_size(audit: PreparedAudit, heatmaps: np.ndarray) -> np.ndarray:
    if audit.pixels is None or heatmaps.ndim != 3:
        return heatmaps
    return upsampled(heatmaps, audit.pixels.shape[1:3])


def audit_method(
    served: ServedModel,
    audit: PreparedAudit,
    params: AuditParameters,
    method: str,
    progress: Progress,
) -> MethodRecord:
    cam = served.gradcam(params.layer, method)
    checks = params.checks
    labels = audit.labels
    others = None
    if "random-logit" in checks:
        others = other_classes(labels, cam.n_classes, params.seed, audit.offset)
    heatmaps, predictions, originals = [], [], []
    values: dict[str, list[float]] = {}
    sums: dict[int, np.ndarray] = {}
    for start in range(0, len(labels), CHUNK):
        rows = slice(start, start + CHUNK)
        cams = explain_labels(cam, served, audit, rows, labels[rows], params)
        full = at_input_size(audit, cams.heatmaps)
        heatmaps.append(cams.heatmaps)
        predictions.append(explained_scores(cams))
        if "randomization" in checks:
            originals.append(full.astype(np.float32))
        for label, one in zip(labels[rows], full, strict=True):
            sums[int(label)] = sums.get(int(label), 0) + one
        progress.advance(len(full))
        chunk_checks(served, cam, audit, params, rows, cams, full, values, progress)
        if others is not None:
            other = explain_labels(cam, served, audit, rows, others[rows], params)
            other_full = at_input_size(audit, other.heatmaps)
            values.setdefault("random_logit", []).extend(
                ssim(a, b) for a, b in zip(full, other_full, strict=True)
            )
            progress.advance(len(full))
    record = MethodRecord(np.concatenate(heatmaps), np.concatenate(predictions), sums)
    record.per_instance = {name: np.asarray(found) for name, found in values.items()}
    if "randomization" in checks:
        record.steps = randomization_steps(
            served, cam, audit, params, np.concatenate(originals), progress
        )
    return record


def chunk_checks(
    served: ServedModel,
    cam: GradCam,
    audit: PreparedAudit,
    params: AuditParameters,
    rows: slice,
    cams: CamBatch,
    full: np.ndarray,
    values: dict[str, list[float]],
    progress: Progress,
) -> None:
    """The per-instance image checks of one chunk, added to `values` (check -> list)."""
    checks = params.checks
    if audit.regions is not None and audit.pointing_regions is not None:
        if "pointing" in checks:
            grown = audit.pointing_regions[rows]
            values.setdefault("pointing", []).extend(
                float(pointing_hit(m, r)) for m, r in zip(full, grown, strict=True)
            )
        if "energy-pointing" in checks:
            regions = audit.regions[rows]
            values.setdefault("energy_pointing", []).extend(
                energy_inside(m, r) for m, r in zip(full, regions, strict=True)
            )
    if audit.pixels is None or served.scaling is None:
        return
    pixels = audit.pixels[rows]
    curves = [name for name in ("deletion", "insertion") if name in checks]
    if curves:
        scored = cam.add_metrics(cams, pixels, served.scaling, curves, params.metric_steps)
        for name in curves:
            values.setdefault(name, []).extend(scored.metrics[name].tolist())
            progress.advance(len(full))
    if "road" in checks:
        found = road(
            cam.forward,
            served.scaling(pixels),
            full,
            cams.targets,
            seed=params.seed + audit.offset + rows.start,
            between=progress.check,
            row_score=head_row_score(cam.forward, cam.head, cams) if dense(cam.head) else None,
        )
        values.setdefault("road", []).extend(found["road"].tolist())
        progress.advance(len(full))


def randomization_steps(
    served: ServedModel,
    cam: GradCam,
    audit: PreparedAudit,
    params: AuditParameters,
    originals: np.ndarray,
    progress: Progress,
) -> list[Step]:
    def make_cam(copy: keras.Model) -> GradCam:
        return GradCam(
            copy,
            cam.layer,
            method=cam.method.name,
            device=served.device,
            fold=FoldPlan({}, {}),
            head=cam.head,  # the clone's outputs have the served model's names
        )

    key = (cam.layer, cam.method.name, cam.head)
    with randomizable(served, key, make_cam) as (copy, copy_cam):

        def maps_of() -> np.ndarray:
            found = []
            for start in range(0, len(audit.labels), CHUNK):
                rows = slice(start, start + CHUNK)
                cams = explain_labels(copy_cam, served, audit, rows, audit.labels[rows], params)
                found.append(at_input_size(audit, cams.heatmaps))
                progress.advance(len(cams.heatmaps))
            return np.concatenate(found)

        return list(cascade(copy, originals, maps_of, seed=params.seed))
