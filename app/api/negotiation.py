"""Content negotiation: JSON by default, the first overlay as bytes for `Accept: image/*`."""

from __future__ import annotations

from fastapi import Response

from app.api.schemas import ExplainResponse
from app.errors import NotAcceptable
from app.explain.results import ExplainResult

IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/webp": "webp"}


def wanted_image_format(accept: str) -> str | None:
    """The overlay format asked for by an `Accept` header naming an image type first."""
    for part in accept.split(","):
        media_type = part.split(";")[0].strip().lower()
        if media_type in IMAGE_FORMATS:
            return IMAGE_FORMATS[media_type]
        if media_type in ("application/json", "*/*", "application/*"):
            return None
    return None


def explain_response(result: ExplainResult, image_format: str | None) -> Response:
    if image_format is None:
        body = ExplainResponse.model_validate(result).model_dump_json(by_alias=True)
        return Response(body, media_type="application/json")
    overlay = result.explanations[0].targets[0].overlay_bytes
    if overlay is None:
        raise NotAcceptable(
            "an image response needs an image model with overlay on; ask for application/json"
        )
    return Response(overlay, media_type=f"image/{image_format}")
