"""Health in the Open Inference Protocol style: live, ready, per-model ready.

`async def`: probes answer on the event loop, never queued behind a busy thread pool.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from app.api.deps import RegistryDep
from app.api.schemas import LiveResponse, ModelReadyResponse, ReadyResponse
from app.errors import ModelNotReady, ShuttingDown

router = APIRouter(tags=["health"])


@router.get("/v2/health/live", summary="The process is up")
async def live() -> LiveResponse:
    return LiveResponse(live=True)


@router.get(
    "/v2/health/ready",
    summary="Every model has a version serving, loaded and warmed (503 until then)",
    responses={503: {"description": "not ready"}},
)
async def ready(registry: RegistryDep, request: Request) -> ReadyResponse:
    if request.app.state.lifecycle.draining:  # after SIGTERM: stop sending us traffic
        raise ShuttingDown("the service is draining before it stops")
    await run_in_threadpool(registry.refresh_remotes)  # a remote may have stopped or come up
    if not registry.ready:
        raise ModelNotReady("the service is still loading or warming its models")
    return ReadyResponse(ready=True)


@router.get(
    "/v2/models/{model_id}/ready",
    summary="One model has a version serving, loaded and warmed (503 until then, 404 if unknown)",
    responses={503: {"description": "not ready"}, 404: {"description": "unknown model"}},
)
async def model_ready(model_id: str, registry: RegistryDep) -> ModelReadyResponse:
    served = registry.get(model_id)
    return ModelReadyResponse(name=served.id, ready=served.ready)


@router.get(
    "/v2/models/{model_id}/versions/{version}/ready",
    summary="One version of a model is loaded and warmed (503 while loading or failed)",
    responses={503: {"description": "not ready"}, 404: {"description": "unknown version"}},
)
async def model_version_ready(
    model_id: str, version: str, registry: RegistryDep
) -> ModelReadyResponse:
    served = registry.get(model_id, version)
    return ModelReadyResponse(name=served.id, ready=served.ready)
