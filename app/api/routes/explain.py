"""POST /v1/models/{model_id}:explain and /v1/models/{model_id}/versions/{version}:explain."""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace

from fastapi import APIRouter, Request, Response

from app.api.deps import BatchersDep, RegistryDep, SettingsDep
from app.api.disconnect import cancel_on_disconnect
from app.api.encodings import parse_explain
from app.api.negotiation import explain_response, wanted_image_format
from app.api.openapi_docs import EXPLAIN_OPENAPI, EXPLAIN_RESPONSES
from app.api.schemas import ExplainParameters, ExplainResponse, TargetItem
from app.errors import InvalidInput
from app.explain.options import ExplainOptions, RequestTarget
from app.pipeline import BatcherPool, ExplainInputs, explain_request
from app.preprocess.image import ImageLimits
from app.registry.registry import Registry
from app.settings import Settings

router = APIRouter(tags=["explain"])
MODEL_VERSION_HEADER = "x-model-version"


@router.post(
    "/v1/models/{model_id}:explain",
    summary="Explain predictions of a model with Grad-CAM",
    response_model=ExplainResponse,
    responses=EXPLAIN_RESPONSES,
    openapi_extra=EXPLAIN_OPENAPI,
)
async def explain(
    model_id: str,
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    batchers: BatchersDep,
) -> Response:
    """Heatmaps (and overlays) for each instance and target, as JSON or as an image,
    from the version serving now."""
    return await explain_on(request, registry, settings, batchers, model_id, None)


@router.post(
    "/v1/models/{model_id}/versions/{version}:explain",
    summary="Explain predictions of one version of a model",
    response_model=ExplainResponse,
    responses=EXPLAIN_RESPONSES,
    openapi_extra=EXPLAIN_OPENAPI,
)
async def explain_version(
    model_id: str,
    version: str,
    request: Request,
    registry: RegistryDep,
    settings: SettingsDep,
    batchers: BatchersDep,
) -> Response:
    """As :explain, on the loaded version named (TF Serving's path)."""
    return await explain_on(request, registry, settings, batchers, model_id, version)


async def explain_on(
    request: Request,
    registry: Registry,
    settings: Settings,
    batchers: BatcherPool,
    model_id: str,
    version: str | None,
) -> Response:
    # The lease keeps the version resolved here loaded until the answer is made, even
    # if a newer one starts serving meanwhile.
    with registry.lease(model_id, version) as served:
        batcher = batchers.for_version(served)
        parsed = await parse_explain(request, settings)
        # Admitted once the body is in (a slow upload holds no place), refused before the
        # costly decode when the model is saturated.
        with batcher.admit():
            image_format = wanted_image_format(request.headers.get("accept", ""))
            options = explain_options(parsed.parameters, settings, image_format)
            if "method" not in parsed.parameters.model_fields_set:
                options = replace(options, method=served.default_method)
            work = explain_request(
                served,
                ExplainInputs(parsed.images, parsed.texts),
                options,
                limits=ImageLimits(settings.max_image_pixels, settings.max_image_side),
                batcher=batcher,
                timeout=settings.request_timeout,
                metrics=request.app.state.metrics,
            )
            result = await cancel_on_disconnect(request, work)
    response = explain_response(result, image_format)
    response.headers[MODEL_VERSION_HEADER] = result.model_version
    return response


def explain_options(
    params: ExplainParameters, settings: Settings, image_format: str | None
) -> ExplainOptions:
    """The request's options, with the server's defaults where the request says nothing."""
    if params.max_channels is not None and params.max_channels > settings.max_channels:
        raise InvalidInput(
            f"max_channels {params.max_channels} is above this server's cap, "
            f"{settings.max_channels}"
        )
    return ExplainOptions(
        **params.model_dump(exclude={"colormap", "alpha_limit", "overlay_format", "targets"}),
        targets=request_targets(params.targets),
        colormap=params.colormap or settings.colormap,
        alpha_limit=settings.alpha_limit if params.alpha_limit is None else params.alpha_limit,
        overlay_format=image_format or params.overlay_format,
        overlay_max_side=settings.overlay_max_side,
        max_tokens=settings.max_tokens,
    )


def request_targets(targets: list[TargetItem] | None) -> list[int | RequestTarget] | None:
    """Target objects as the explain stage takes them; a mask's base64 decoded."""
    if targets is None:
        return None
    return [
        item
        if isinstance(item, int)
        else RequestTarget(
            item.class_,
            item.output,
            None if item.mask is None else decode_mask(item.mask.b64),
            item.box,
        )
        for item in targets
    ]


def decode_mask(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise InvalidInput(f"a target's mask is not valid base64: {exc}") from None
