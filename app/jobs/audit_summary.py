"""An audit's records summed up: the job's JSON result (means per method and per class,
the randomisation verdicts, the flags) and what the report draws.

Flags: an instance whose map puts less than half its mass inside its box or mask
(`OUTSIDE_SHARE`: the map looks at the background), and a class whose mean map puts more
than half its mass in the image's outer tenth on each side (`BORDER_SHARE`; a uniform map
puts 36 % there), i.e. the frame rather than the object.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine.evaluation.pointing import border_share
from app.engine.evaluation.randomization import PASS_BELOW, passed
from app.jobs.audit import MethodRecord
from app.jobs.audit_inputs import PreparedAudit

OUTSIDE_SHARE = 0.5
BORDER_SHARE = 0.5
CHECK_KEYS = ("pointing", "energy_pointing", "deletion", "insertion", "road", "random_logit")


def mean_or_none(values: np.ndarray | None) -> float | None:
    return None if values is None or len(values) == 0 else float(np.mean(values))


def summarise(
    records: dict[str, MethodRecord], audit: PreparedAudit, labels: tuple[str, ...]
) -> dict[str, Any]:
    first = next(iter(records.values()))
    correct = np.argmax(first.predictions, axis=-1) == audit.labels
    result: dict[str, Any] = {
        "instances": len(audit.labels),
        "accuracy": float(np.mean(correct)),
        "methods": {name: method_summary(record) for name, record in records.items()},
        "classes": {},
        "flags": [],
    }
    for label in sorted(set(audit.labels.tolist())):
        rows = audit.labels == label
        name = class_name(labels, label)
        result["classes"][name] = {
            "index": label,
            "instances": int(rows.sum()),
            "accuracy": float(np.mean(correct[rows])),
            "methods": {
                method: class_summary(record, rows, label, audit)
                for method, record in records.items()
            },
        }
    result["flags"] = flags(records, audit, labels)
    return result


def class_name(labels: tuple[str, ...], index: int) -> str:
    return labels[index] if 0 <= index < len(labels) else str(index)


def method_summary(record: MethodRecord) -> dict[str, Any]:
    summary: dict[str, Any] = {
        key: mean_or_none(record.per_instance.get(key))
        for key in CHECK_KEYS
        if key != "random_logit"
    }
    logit = record.per_instance.get("random_logit")
    summary["random_logit"] = None if logit is None else {"ssim": mean_or_none(logit)}
    steps = record.steps
    summary["randomization"] = (
        None
        if steps is None
        else {
            "steps": [{"layer": s.layer, "spearman": s.spearman, "ssim": s.ssim} for s in steps],
            "final_spearman": steps[-1].spearman if steps else None,
            "pass_below": PASS_BELOW,
            "passed": passed(steps),
        }
    )
    return summary


def class_summary(
    record: MethodRecord, rows: np.ndarray, label: int, audit: PreparedAudit
) -> dict[str, float | None]:
    found: dict[str, float | None] = {
        key: mean_or_none(record.per_instance[key][rows])
        for key in ("pointing", "energy_pointing")
        if key in record.per_instance
    }
    mean_map = record.class_sums[label] / int(rows.sum())
    found["border_share"] = border_share(mean_map) if np.ndim(mean_map) == 2 else None
    return found


def flags(
    records: dict[str, MethodRecord], audit: PreparedAudit, labels: tuple[str, ...]
) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for method, record in records.items():
        energy = record.per_instance.get("energy_pointing")
        if energy is not None:
            for index in np.flatnonzero(energy < OUTSIDE_SHARE):
                found.append(
                    {
                        "kind": "outside-box",
                        "method": method,
                        "instance": int(index),
                        "name": audit.names[index],
                        "energy_pointing": float(energy[index]),
                    }
                )
        for label, total in record.class_sums.items():
            if np.ndim(total) != 2:
                continue
            share = border_share(total / int(np.sum(audit.labels == label)))
            if share > BORDER_SHARE:
                found.append(
                    {
                        "kind": "border",
                        "method": method,
                        "class": class_name(labels, label),
                        "border_share": share,
                    }
                )
    return found
