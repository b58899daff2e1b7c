"""`gradcam audit --ray ADDRESS`: the labelled set spread over a Ray cluster with Ray Data.

Each actor (`AuditActor`, one per node: SPREAD) loads the model once and runs the same
audit as the service (`app.jobs.audit.run_audit`, the compiled engine) on batches of
`BATCH` instances; the driver merges the batches in set order and summarises as the
service does. A batch knows its place in the set (`offset`), so the random other classes
and ROAD's noise are those of an in-process audit; randomisation runs the same seeded
cascade on every actor, and its per-step means are weighted by batch size. Needs the
`ray` extra (ray[data]); the models folder must be readable on every node.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import time
from typing import Any

import numpy as np

from app.cli.audit_files import LabelledImage
from app.cli.progress import job_progress_bar

BATCH = 8  # a multiple of the audit's chunk (8): chunks, hence ROAD's noise, line up
ACTORS = 2
ACTOR_START_S = 600  # loading TensorFlow and the model on a busy node


class AuditActor:
    """Holds the model; audits one batch of rows (bytes, labels, boxes) per call."""

    def __init__(self, models_dir: str, model: str, parameters: dict[str, Any]) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        from app.cli.backends import load_one_model
        from app.jobs.audit_inputs import AuditParameters
        from app.settings import Settings

        self.settings = Settings(models_dir=models_dir)
        self.served = load_one_model(self.settings, model)
        self.params = AuditParameters(
            methods=tuple(parameters["methods"]),
            checks=tuple(parameters["checks"]),
            pointing_margin=parameters["pointing_margin"],
            seed=parameters["seed"],
        )

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        import ray

        from app.jobs.audit import run_audit
        from app.jobs.audit_inputs import AuditItem, prepare_audit
        from app.jobs.manager import Job, Progress
        from app.preprocess.image import ImageLimits

        items = [
            AuditItem(int(label), image=bytes(image), box=box_or_none(box), name=str(name))
            for image, label, box, name in zip(
                batch["image"], batch["label"], batch["box"], batch["name"], strict=True
            )
        ]
        limits = ImageLimits(self.settings.max_image_pixels, self.settings.max_image_side)
        audit = prepare_audit(self.served, items, self.params, limits)
        audit.offset = int(batch["index"][0])
        records = run_audit(self.served, audit, self.params, Progress(Job("", "", "", "", 0.0)))
        return {
            "offset": np.array([audit.offset]),
            "count": np.array([len(items)]),
            "node": np.array([ray.util.get_node_ip_address()]),  # type: ignore[no-untyped-call]
            "records": np.array([pickle.dumps(records)], dtype=object),
        }


def box_or_none(box: Any) -> tuple[float, float, float, float] | None:
    values = np.asarray(box, dtype=np.float64).ravel()
    return None if values.size != 4 or np.isnan(values).any() else tuple(values.tolist())  # type: ignore[return-value]


def ray_audit(
    args: argparse.Namespace, images: list[LabelledImage], parameters: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    import ray

    from app.cli.audit_files import label_index
    from app.cli.backends import load_one_model
    from app.settings import Settings

    labels = load_one_model(Settings(models_dir=args.models_dir), args.model).labels
    rows = [
        {
            "index": index,
            "image": image.path.read_bytes(),
            "label": label_index(image.label, labels, image.name),
            "box": list(image.box) if image.box is not None else [float("nan")] * 4,
            "name": image.name,
        }
        for index, image in enumerate(images)
    ]
    ray.init(address=args.ray, log_to_driver=False)
    # Start the batches once every actor holds its model (else the first one up takes all).
    ray.data.DataContext.get_current().wait_for_min_actors_s = ACTOR_START_S
    try:
        # Blocks of BATCH rows from the start (no repartition: its tasks would wait for the
        # CPUs the actors hold).
        dataset = ray.data.from_items(rows, override_num_blocks=max(1, -(-len(rows) // BATCH)))
        audited = dataset.map_batches(
            AuditActor,
            fn_constructor_kwargs={
                "models_dir": str(args.models_dir.resolve()),
                "model": args.model,
                "parameters": parameters,
            },
            batch_size=BATCH,
            batch_format="numpy",
            # Both actors, one batch each at a time: every node takes a share.
            compute=ray.data.ActorPoolStrategy(size=ACTORS, max_tasks_in_flight_per_actor=1),
            num_cpus=0.5,  # leaves room on each node for Ray Data's own tasks
            scheduling_strategy="SPREAD",
        )
        batches = []
        started = time.perf_counter()
        with job_progress_bar() as update:
            for row in audited.iter_rows():
                batches.append(row)
                update(sum(int(b["count"]) for b in batches), len(rows))
        seconds = time.perf_counter() - started  # actors' start and model load included
    finally:
        ray.shutdown()
    set_labels = np.array([row["label"] for row in rows], dtype=np.int32)
    result, report = merged_result(args, images, labels, set_labels, batches)
    result["ray"]["seconds"] = seconds
    return result, report


def merged_result(
    args: argparse.Namespace,
    images: list[LabelledImage],
    labels: tuple[str, ...],
    label_values: np.ndarray,
    batches: list[dict[str, Any]],
) -> tuple[dict[str, Any], str]:
    from PIL import Image

    from app.jobs.audit_inputs import PreparedAudit, thumbnail
    from app.jobs.audit_summary import summarise
    from app.jobs.report import ReportData, render_report

    batches.sort(key=lambda b: int(b["offset"]))
    parts = [pickle.loads(b["records"]) for b in batches]
    counts = [int(b["count"]) for b in batches]
    records = {method: merge([part[method] for part in parts], counts) for method in parts[0]}
    audit = PreparedAudit(label_values, np.empty(0), [image.name for image in images])
    audit.thumbnails = [
        thumbnail(Image.open(io.BytesIO(image.path.read_bytes()))) for image in images
    ]
    result = summarise(records, audit, labels)
    result["ray"] = {"nodes": sorted({str(b["node"]) for b in batches}), "batches": len(batches)}
    report = ReportData(args.model, "", labels, label_values, audit.names, audit.thumbnails,
                        records, result)  # fmt: skip
    return result, render_report(report)


def merge(records: list[Any], counts: list[int]) -> Any:
    from app.engine.evaluation.randomization import Step
    from app.jobs.audit import MethodRecord

    merged = MethodRecord(
        np.concatenate([r.heatmaps for r in records]),
        np.concatenate([r.predictions for r in records]),
    )
    for record in records:
        for label, total in record.class_sums.items():
            merged.class_sums[label] = merged.class_sums.get(label, 0) + total
    for key in records[0].per_instance:
        merged.per_instance[key] = np.concatenate([r.per_instance[key] for r in records])
    if records[0].steps is not None:
        weights = np.array(counts, dtype=np.float64) / sum(counts)
        merged.steps = [
            Step(
                step.layer,
                float(sum(w * r.steps[i].spearman for w, r in zip(weights, records, strict=True))),
                float(sum(w * r.steps[i].ssim for w, r in zip(weights, records, strict=True))),
            )
            for i, step in enumerate(records[0].steps)
        ]
    return merged
