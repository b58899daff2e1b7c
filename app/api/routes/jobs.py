"""POST /v1/models/{model_id}:audit (and /versions/{version}:audit) starts an audit job;
GET and DELETE /v1/jobs/{job}, GET /v1/jobs/{job}/report follow it.

The instances are decoded and checked before the job is queued (a bad label, box, mask
or image is a 422 naming it); the job holds a lease on the model version until it ends.
"""

from __future__ import annotations

import base64
import binascii
from contextlib import ExitStack
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.concurrency import run_in_threadpool

from app.api.audit_schemas import AuditInstance, AuditRequest, JobLink, JobResponse
from app.api.audit_schemas import AuditParameters as AuditParametersSchema
from app.api.deps import RegistryDep, SettingsDep
from app.api.openapi_docs import problem_response
from app.errors import InvalidImage, JobNotFinished, PayloadTooLarge
from app.explain.options import TextInput
from app.jobs.audit_inputs import AuditItem, AuditParameters, prepare_audit
from app.jobs.audit_job import Verdicts, audit_work
from app.jobs.manager import Job, JobManager
from app.jobs.report import render_report
from app.preprocess.image import ImageLimits
from app.registry.registry import Registry
from app.settings import Settings

router = APIRouter(tags=["audits"])


async def get_jobs(request: Request) -> JobManager:
    jobs: JobManager = request.app.state.jobs
    return jobs


async def get_verdicts(request: Request) -> Verdicts:
    verdicts: Verdicts = request.app.state.verdicts
    return verdicts


JobsDep = Annotated[JobManager, Depends(get_jobs)]
VerdictsDep = Annotated[Verdicts, Depends(get_verdicts)]
AUDIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": JobLink, "description": "Queued; `Location` is the job"},
    400: problem_response("Invalid image", "instances[2].image is not a decodable image", 400),
    404: problem_response("Model not found", "model 'nope' is not in the registry", 404),
    413: problem_response("Payload too large", "300 instances; at most 256 per audit", 413),
    422: problem_response(
        "Invalid input", "instances[3].label 7 is out of range [0, 4) for model shapes", 422
    ),
    429: problem_response("Too many jobs", "5 jobs are queued or running", 429, "jobs-full"),
}
JOB_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: problem_response("Job not found", "job 'abc' is unknown, or finished and expired", 404)
}


@router.post(
    "/v1/models/{model_id}:audit",
    summary="Audit a model's maps on a labelled set, as a job",
    status_code=202,
    response_model=JobLink,
    responses=AUDIT_RESPONSES,
)
async def audit(
    model_id: str,
    body: AuditRequest,
    registry: RegistryDep,
    settings: SettingsDep,
    jobs: JobsDep,
    verdicts: VerdictsDep,
) -> JSONResponse:
    """Sanity checks (pointing, energy pointing, deletion, insertion, ROAD, randomisation,
    random-logit) of each method, on the version serving now. 202 with `Location`."""
    return await submit_audit(registry, settings, jobs, verdicts, model_id, None, body)


@router.post(
    "/v1/models/{model_id}/versions/{version}:audit",
    summary="Audit one version of a model, as a job",
    status_code=202,
    response_model=JobLink,
    responses=AUDIT_RESPONSES,
)
async def audit_version(
    model_id: str,
    version: str,
    body: AuditRequest,
    registry: RegistryDep,
    settings: SettingsDep,
    jobs: JobsDep,
    verdicts: VerdictsDep,
) -> JSONResponse:
    return await submit_audit(registry, settings, jobs, verdicts, model_id, version, body)


async def submit_audit(
    registry: Registry,
    settings: Settings,
    jobs: JobManager,
    verdicts: Verdicts,
    model_id: str,
    version: str | None,
    body: AuditRequest,
) -> JSONResponse:
    count = len(body.instances)
    if count > settings.audit_max_instances:
        raise PayloadTooLarge(
            f"{count} instances; at most {settings.audit_max_instances} per audit"
        )
    items = [audit_item(index, instance) for index, instance in enumerate(body.instances)]
    params = audit_parameters(body.parameters)
    limits = ImageLimits(settings.max_image_pixels, settings.max_image_side)
    with ExitStack() as stack:
        served = stack.enter_context(registry.lease(model_id, version))
        jobs.check_capacity()  # refuse before the costly decode
        prepared = await run_in_threadpool(prepare_audit, served, items, params, limits)
        job = jobs.submit(
            "audit",
            audit_work(served, prepared, params),
            model=served.id,
            version=served.card.version,
            on_done=verdicts.record,
            hold=stack.pop_all(),
        )
    location = f"/v1/jobs/{job.id}"
    return JSONResponse({"job": location}, status_code=202, headers={"location": location})


def audit_item(index: int, instance: AuditInstance) -> AuditItem:
    text = None
    if instance.image is None:
        text = TextInput(instance.text, instance.tokens, None, instance.ids)
    box = None if instance.box is None else tuple(instance.box)
    return AuditItem(
        label=instance.label,
        image=None if instance.image is None else b64(instance.image.b64, index, "image"),
        text=text,
        box=box,  # type: ignore[arg-type]  # the schema holds exactly four
        mask=None if instance.mask is None else b64(instance.mask.b64, index, "mask"),
        name=instance.name,
    )


def b64(data: str, index: int, field: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImage(f"instances[{index}].{field}.b64 is not valid base64") from exc


def audit_parameters(params: AuditParametersSchema) -> AuditParameters:
    return AuditParameters(
        methods=tuple(params.methods),
        checks=tuple(params.checks),
        pointing_margin=params.pointing_margin,
        layer=params.layer,
        seed=params.seed,
        metric_steps=params.metric_steps,
        max_channels=params.max_channels,
    )


@router.get(
    "/v1/jobs/{job_id}", summary="A job's status, progress and result", responses=JOB_RESPONSES
)
async def get_job(job_id: str, jobs: JobsDep) -> JobResponse:
    return job_view(jobs.get(job_id))


@router.delete(
    "/v1/jobs/{job_id}",
    summary="Cancel a job (it stops at its next step)",
    responses=JOB_RESPONSES,
)
async def cancel_job(job_id: str, jobs: JobsDep) -> JobResponse:
    return job_view(jobs.cancel(job_id))


@router.get(
    "/v1/jobs/{job_id}/report",
    summary="A finished audit's HTML report",
    response_class=HTMLResponse,
    responses={
        200: {
            "description": "The report",
            "content": {"text/html": {"example": "<!doctype html><html>...</html>"}},
        },
        **JOB_RESPONSES,
        409: problem_response("Job not finished", "job abc is running", 409),
    },
)
async def job_report(job_id: str, jobs: JobsDep) -> HTMLResponse:
    job = jobs.get(job_id)
    if job.status != "done" or job.report is None:
        raise JobNotFinished(f"job {job_id} is {job.status}; a report exists once it is done")
    page = await run_in_threadpool(render_report, job.report)
    return HTMLResponse(page)


def job_view(job: Job) -> JobResponse:
    return JobResponse(
        id=job.id,
        kind=job.kind,
        model=job.model,
        version=job.version,
        status=job.status,
        progress={"done": job.done, "total": job.total},
        result=job.result,
        error=job.error,
        report=f"/v1/jobs/{job.id}/report" if job.status == "done" else None,
    )
