"""POST /v1/models/{model_id}:explain."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from app.api.deps import RegistryDep, SettingsDep
from app.api.encodings import ParsedExplain, parse_explain
from app.api.negotiation import explain_response, wanted_image_format
from app.api.openapi_docs import EXPLAIN_OPENAPI, EXPLAIN_RESPONSES
from app.api.schemas import ExplainResponse
from app.explain import ExplainOptions, ExplainResult, explain_images, explain_texts
from app.preprocess.image import ImageLimits
from app.registry.served import ServedModel
from app.settings import Settings

router = APIRouter(tags=["explain"])


@router.post(
    "/v1/models/{model_id}:explain",
    summary="Explain predictions of a model with Grad-CAM",
    response_model=ExplainResponse,
    responses=EXPLAIN_RESPONSES,
    openapi_extra=EXPLAIN_OPENAPI,
)
async def explain(
    model_id: str, request: Request, registry: RegistryDep, settings: SettingsDep
) -> Response:
    """Heatmaps (and overlays) for each instance and target, as JSON or as an image."""
    served = registry.get(model_id)
    parsed = await parse_explain(request, settings)
    image_format = wanted_image_format(request.headers.get("accept", ""))
    result = await run_in_threadpool(run_explain, served, parsed, settings, image_format)
    return explain_response(result, image_format)


def run_explain(
    served: ServedModel, parsed: ParsedExplain, settings: Settings, image_format: str | None
) -> ExplainResult:
    params = parsed.parameters
    options = ExplainOptions(
        **params.model_dump(exclude={"colormap", "alpha_limit", "overlay_format"}),
        colormap=params.colormap or settings.colormap,
        alpha_limit=settings.alpha_limit if params.alpha_limit is None else params.alpha_limit,
        overlay_format=image_format or params.overlay_format,
        overlay_max_side=settings.overlay_max_side,
    )
    if parsed.images:
        limits = ImageLimits(settings.max_image_pixels, settings.max_image_side)
        return explain_images(served, parsed.images, options, limits)
    return explain_texts(served, parsed.texts, options)
