"""One audit: every method's maps for the labelled instances and the checks asked for,
through the served model's compiled explainers (the same engine as requests), a chunk of
instances at a time so that progress and a cancel are seen between chunks.

The randomisation check runs on a copy of the model (`twins`), explained by a
compiled explainer of its own without BatchNormalization folding (folded weights are
copies taken once, so they would not follow the re-drawn weights); the served model
is only read. Image maps are compared at the model input's size (bilinear, as the
pointing game resizes them); text maps at their tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import keras
import numpy as np

from app.engine.capture.keras.fold import FoldPlan
from app.engine.evaluation.faithfulness import upsampled
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
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.results import CamBatch
from app.jobs.audit_inputs import AuditParameters, PreparedAudit
from app.jobs.manager import Progress
from app.jobs.twins import randomizable
from app.registry.served import ServedModel

CHUNK = 8  # instances per compiled call; progress and cancel are checked between chunks


@dataclass
class MethodRecord:
    """What one method's audit measured, per instance (N,) unless said otherwise."""

    heatmaps: np.ndarray  # (N, *spatial) at the layer's resolution, for the report
    predictions: np.ndarray  # (N, n_classes)
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
    cam: GradCam, inputs: np.ndarray, labels: np.ndarray, params: AuditParameters, score: str
) -> CamBatch:
    return cam.explain(
        inputs,
        [[int(label)] for label in labels],
        score=score,
        max_channels=params.max_channels or DEFAULT_MAX_CHANNELS,
    )


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
    score = served.card.score
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
        cams = explain_labels(cam, audit.inputs[rows], labels[rows], params, score)
        full = at_input_size(audit, cams.heatmaps)
        heatmaps.append(cams.heatmaps)
        predictions.append(cams.predictions)
        if "randomization" in checks:
            originals.append(full.astype(np.float32))
        for label, one in zip(labels[rows], full, strict=True):
            sums[int(label)] = sums.get(int(label), 0) + one
        progress.advance(len(full))
        chunk_checks(served, cam, audit, params, rows, cams, full, values, progress)
        if others is not None:
            other = explain_labels(cam, audit.inputs[rows], others[rows], params, score)
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
                cams = explain_labels(
                    copy_cam, audit.inputs[rows], audit.labels[rows], params, served.card.score
                )
                found.append(at_input_size(audit, cams.heatmaps))
                progress.advance(len(cams.heatmaps))
            return np.concatenate(found)

        return list(cascade(copy, originals, maps_of, seed=params.seed))
