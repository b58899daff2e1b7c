"""An audit as a job: the work the manager runs, and the randomisation verdicts it leaves
behind per (model, version), which GET /v1/models/{id} shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from app.jobs.audit import run_audit
from app.jobs.audit_inputs import AuditParameters, PreparedAudit
from app.jobs.audit_summary import summarise
from app.jobs.manager import Job, Progress, Work
from app.jobs.report import ReportData
from app.registry.served import ServedModel


def audit_work(served: ServedModel, audit: PreparedAudit, params: AuditParameters) -> Work:
    def work(progress: Progress) -> tuple[dict[str, Any], ReportData]:
        records = run_audit(served, audit, params, progress)
        result = {
            "model": served.id,
            "version": served.card.version,
            **summarise(records, audit, served.labels),
        }
        report = ReportData(
            served.id,
            served.card.version,
            served.labels,
            audit.labels,
            audit.names,
            audit.thumbnails,
            records,
            result,
            audit.regions,
        )
        return result, report

    return work


@dataclass
class Verdicts:
    """The last randomisation verdict per method, per (model id, version)."""

    by_version: dict[tuple[str, str], dict[str, dict[str, Any]]] = field(default_factory=dict)

    def record(self, job: Job) -> None:
        if job.result is None:
            return
        found = self.by_version.setdefault((job.model, job.version), {})
        for method, scores in job.result["methods"].items():
            randomization = scores.get("randomization")
            if randomization is not None:
                found[method] = {
                    "passed": randomization["passed"],
                    "final_spearman": randomization["final_spearman"],
                    "job": job.id,
                }

    def of(self, model: str, version: str) -> dict[str, dict[str, Any]]:
        return dict(self.by_version.get((model, version), {}))
