"""OpenAPI additions for `:explain`: its three request encodings, examples, responses."""

from __future__ import annotations

from typing import Any

from app.api.problem_types import PROBLEM_TYPES, problem_uri
from app.api.schemas import ExplainParameters, ExplainRequest

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {
            "type": "string",
            "format": "uri-reference",
            "enum": [kind.uri for kind in PROBLEM_TYPES.values()],
            "description": "the problem type, a reference relative to this service: GET it "
            "(GET /problems/{slug}) for what it means and how to fix the request",
        },
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}


def problem_response(
    description: str, detail: str, status: int, slug: str | None = None
) -> dict[str, Any]:
    """An OpenAPI response of problem+json; `slug` defaults to the description's words."""
    example = {
        "type": problem_uri(slug or description.lower().replace(" ", "-")),
        "title": description,
        "status": status,
        "detail": detail,
    }
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": PROBLEM_SCHEMA, "example": example}},
    }


IMAGE_REQUEST_EXAMPLE = {
    "instances": [{"image": {"b64": "iVBORw0KGgoAAAANSUhEUgAAAEAAAABA..."}}],
    "parameters": {"targets": [2], "layer": None, "relu": True, "counterfactual": False},
}
TEXT_REQUEST_EXAMPLE = {
    "instances": [
        {"text": "the striker scored a late goal"},
        {"tokens": ["stocks", "fell"], "doc": [431, 120]},
        {"ids": [431, 120]},
    ],
    "parameters": {"targets": [0, 1], "padding": "post"},
}
RESPONSE_EXAMPLE = {
    "model_id": "shapes",
    "model_version": "1",
    "method": "gradcam",
    "layer": "last_conv",
    "predictions": [[0.01, 0.02, 0.95, 0.02]],
    "explanations": [
        {
            "image": {"width": 64, "height": 64},
            "targets": [
                {
                    "target": 2,
                    "label": "triangle",
                    "score": 0.95,
                    "scale": 0.0123,
                    "heatmap": [[0.0, 0.1], [0.4, 1.0]],
                    "overlay": "data:image/png;base64,iVBORw0KGgo...",
                }
            ],
        }
    ],
}

FORM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "image": {"type": "string", "format": "binary", "description": "the image file"},
        "text": {"type": "string", "description": "free text, for text models"},
        "ids": {"type": "string", "description": "token ids alone, e.g. 4,17,2 or [4, 17, 2]"},
        "targets": {"type": "string", "description": "comma-separated class indices, e.g. 2,3"},
        **{
            name: {"type": "string", "description": field.description or name}
            for name, field in ExplainParameters.model_fields.items()
            if name != "targets"
        },
    },
}

EXPLAIN_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/ExplainRequest"},
                "examples": {
                    "image": {"summary": "one image, target 2", "value": IMAGE_REQUEST_EXAMPLE},
                    "text": {"summary": "free text, tokens, ids", "value": TEXT_REQUEST_EXAMPLE},
                },
            },
            "multipart/form-data": {"schema": FORM_SCHEMA},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "description": f"raw image bodies only: {field.description or name}",
            "schema": {"type": "string"},
        }
        for name, field in ExplainParameters.model_fields.items()
    ],
}

EXPLAIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Heatmaps per instance and target; the overlay alone for Accept: image/*",
        "content": {
            "application/json": {"example": RESPONSE_EXAMPLE},
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
            "image/webp": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    400: problem_response("Invalid image", "the upload is not a decodable image", 400),
    404: problem_response("Model not found", "model 'nope' is not in the registry", 404),
    406: problem_response("Not acceptable", "an image response needs an image model", 406),
    413: problem_response("Payload too large", "the body is larger than the limit", 413),
    415: problem_response("Unsupported media type", "content type 'text/plain'", 415),
    422: problem_response("Invalid input", "target 7 is out of range [0, 4) for model shapes", 422),
    503: problem_response("Model not ready", "model shapes is still loading", 503),
}


def add_request_schemas(schema: dict[str, Any]) -> dict[str, Any]:
    """Put ExplainRequest (read by hand, not by a body parameter) into the components."""
    request = ExplainRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(request.pop("$defs", {}))
    components["ExplainRequest"] = request
    return schema
