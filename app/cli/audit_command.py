"""`gradcam audit DIR --labels labels.csv [--boxes boxes.csv] --model ID`: an audit of
the labelled set on a server (a job, polled), in this process (`--local`), or spread over
a Ray cluster (`--ray ADDRESS`), with a progress bar; writes the HTML report and the
JSON result. Exit status: 0 done, 1 the audit failed, 2 bad arguments or files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from app.cli.audit_files import AuditSetError, LabelledImage, label_index, labelled_set
from app.cli.progress import job_progress_bar


def audit_command(args: argparse.Namespace) -> int:
    try:
        images = labelled_set(args.folder, args.labels, args.boxes)
    except AuditSetError as exc:
        print(f"gradcam audit: {exc}", file=sys.stderr)
        return 2
    if not images:
        print("gradcam audit: no labelled images", file=sys.stderr)
        return 2
    parameters = {
        "methods": args.method or ["gradcam"],
        "checks": args.check or ["pointing", "energy-pointing"],
        "pointing_margin": args.pointing_margin,
        "seed": args.seed,
    }
    try:
        if args.ray:
            from app.cli.audit_ray import ray_audit

            result, report = ray_audit(args, images, parameters)
        elif args.local:
            result, report = local_audit(args, images, parameters)
        else:
            result, report = remote_audit(args, images, parameters)
    except AuditSetError as exc:
        print(f"gradcam audit: {exc}", file=sys.stderr)
        return 2
    except AuditFailed as exc:
        print(f"gradcam audit: {exc}", file=sys.stderr)
        return 1
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(report, encoding="utf-8")
    json_path: Path = args.json or args.report.with_suffix(".json")
    json_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(summary_line(result), file=sys.stderr)
    print(f"report: {args.report}; result: {json_path}", file=sys.stderr)
    return 0


class AuditFailed(Exception):
    pass


def summary_line(result: dict[str, Any]) -> str:
    parts = [f"{result['instances']} instances, accuracy {result['accuracy']:.3f}"]
    for method, scores in result["methods"].items():
        found = [f"{key} {value:.3f}" for key, value in scores.items() if isinstance(value, float)]
        randomization = scores.get("randomization")
        if randomization is not None:
            found.append("randomisation " + ("passed" if randomization["passed"] else "failed"))
        parts.append(f"{method}: {', '.join(found)}")
    return "\n".join(parts)


def remote_audit(
    args: argparse.Namespace, images: list[LabelledImage], parameters: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    from gradcam_client import Client, ProblemError, TransportError
    from gradcam_client.audits import audit_instance

    with Client(args.url, args.api_key, timeout=args.timeout) as client:
        try:
            labels = client.labels(args.model)
            instances = [
                audit_instance(
                    image.path.read_bytes(),
                    label_index(image.label, labels, image.name),
                    box=image.box,
                    name=image.name,
                )
                for image in images
            ]
            job = client.audit(args.model, instances, **parameters)
            with job_progress_bar() as update:
                state = client.wait_for_job(job, poll=0.5, on_progress=update)
            if state["status"] != "done":
                raise AuditFailed(f"job {state['id']} {state['status']}: {state.get('error')}")
            return state["result"], client.audit_report(job)
        except (ProblemError, TransportError) as exc:
            raise AuditFailed(str(exc)) from exc


def local_audit(
    args: argparse.Namespace, images: list[LabelledImage], parameters: dict[str, Any]
) -> tuple[dict[str, Any], str]:
    """The same audit in this process: the model loaded from `--models-dir`."""
    from app.cli.backends import load_one_model
    from app.errors import ExplainError, ModelError
    from app.jobs.audit_inputs import AuditItem, AuditParameters, prepare_audit
    from app.jobs.audit_job import audit_work
    from app.jobs.manager import Job, Progress
    from app.jobs.report import render_report
    from app.preprocess.image import ImageLimits
    from app.settings import Settings

    settings = Settings(models_dir=args.models_dir)
    try:
        served = load_one_model(settings, args.model)
        items = [
            AuditItem(
                label_index(image.label, served.labels, image.name),
                image=image.path.read_bytes(),
                box=image.box,
                name=image.name,
            )
            for image in images
        ]
        params = AuditParameters(
            methods=tuple(parameters["methods"]),
            checks=tuple(parameters["checks"]),
            pointing_margin=parameters["pointing_margin"],
            seed=parameters["seed"],
        )
        limits = ImageLimits(settings.max_image_pixels, settings.max_image_side)
        prepared = prepare_audit(served, items, params, limits)
        job = Job("local", "audit", served.id, served.card.version, created=0.0)
        work = audit_work(served, prepared, params)
        with job_progress_bar() as update:
            progress = Progress(job, on_advance=update)
            result, report = work(progress)
    except (ExplainError, ModelError) as exc:
        raise AuditFailed(str(exc)) from exc
    return result, render_report(report)
