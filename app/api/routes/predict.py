"""POST /v1/models/{model_id}[/versions/{version}]:predict: TF Serving's REST predict.

A TF Serving REST client can point here unchanged, then add `:explain`. Errors are
application/problem+json like every error of this service (TF Serving answers
`{"error": "..."}`; a client that only shows the error text finds it in `detail`).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import BatchersDep, RegistryDep, SettingsDep
from app.api.encodings import read_body
from app.api.openapi_docs import problem_response
from app.api.routes.explain import MODEL_VERSION_HEADER
from app.api.schemas import PredictResponse
from app.pipeline import BatcherPool
from app.predict import BadPredictRequest, model_inputs, parse_predict, predict, predict_answer
from app.preprocess.image import ImageLimits
from app.registry.registry import Registry
from app.settings import Settings

router = APIRouter(tags=["predict"])
PREDICT_REQUEST: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "signature_name": {"type": "string", "default": "serving_default"},
                        "instances": {"type": "array", "items": {}},
                        "inputs": {},
                    },
                },
                "examples": {
                    "tensor": {"value": {"instances": [[[[0.0, 0.0, 0.0]]]]}},
                    "image": {"value": {"instances": [{"b64": "iVBORw0KGgo..."}]}},
                },
            }
        },
    }
}
PREDICT_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: problem_response("Bad request", "an instance of model shapes has shape ...", 400),
    404: problem_response("Model not found", "model 'nope' is not in the registry", 404),
    503: problem_response("Model not ready", "model shapes has no version serving", 503),
}


@router.post(
    "/v1/models/{model_id}:predict",
    summary="The model's outputs for TF Serving's REST predict body",
    responses=PREDICT_RESPONSES,
    openapi_extra=PREDICT_REQUEST,
    response_model_exclude_none=True,
)
async def predict_serving(
    model_id: str,
    request: Request,
    response: Response,
    registry: RegistryDep,
    settings: SettingsDep,
    batchers: BatchersDep,
) -> PredictResponse:
    return await predict_on(request, response, registry, settings, batchers, model_id, None)


@router.post(
    "/v1/models/{model_id}/versions/{version}:predict",
    summary="As :predict, on the loaded version named",
    responses=PREDICT_RESPONSES,
    openapi_extra=PREDICT_REQUEST,
    response_model_exclude_none=True,
)
async def predict_version(
    model_id: str,
    version: str,
    request: Request,
    response: Response,
    registry: RegistryDep,
    settings: SettingsDep,
    batchers: BatchersDep,
) -> PredictResponse:
    return await predict_on(request, response, registry, settings, batchers, model_id, version)


async def predict_on(
    request: Request,
    response: Response,
    registry: Registry,
    settings: Settings,
    batchers: BatcherPool,
    model_id: str,
    version: str | None,
) -> PredictResponse:
    with registry.lease(model_id, version) as served:
        parsed = parse_predict(json_body(await read_body(request)), served, settings.max_instances)
        limits = ImageLimits(settings.max_image_pixels, settings.max_image_side)
        with batchers.for_version(served).admit():
            inputs = await run_in_threadpool(model_inputs, parsed, served, limits)
            outputs = await run_in_threadpool(predict, served, inputs)
    response.headers[MODEL_VERSION_HEADER] = served.card.version
    return PredictResponse(**predict_answer(outputs, parsed), model_version=served.card.version)


def json_body(body: bytes) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # not JSON, or nested past reason
        raise BadPredictRequest(f"the body is not JSON: {exc}") from exc
