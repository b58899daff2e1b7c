"""Every error as `application/problem+json` (RFC 9457), from one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from app.api.problem_types import problem_uri
from app.errors import ExplainError

log = logging.getLogger(__name__)

PROBLEM_MEDIA_TYPE = "application/problem+json"
# The framework's own HTTP errors: status -> (title, problem slug); others are http-error.
HTTP_PROBLEMS = {404: ("Not found", "not-found"), 405: ("Method not allowed", "method-not-allowed")}


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    slug: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> ProblemResponse:
    body = {
        "type": problem_uri(slug),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return ProblemResponse(jsonable_encoder(body), status_code=status, headers=headers)


async def explain_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, ExplainError)
    return problem(exc.status, exc.title, exc.detail, slug=exc.type_slug, headers=exc.headers)


async def validation_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]}
        for error in exc.errors()
    ]
    summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem(422, "Invalid request", summary, slug="validation", errors=errors)


async def http_error(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPException)
    title, slug = HTTP_PROBLEMS.get(exc.status_code, ("HTTP error", "http-error"))
    headers = getattr(exc, "headers", None)
    return problem(exc.status_code, title, str(exc.detail), slug=slug, headers=headers)


async def unexpected_error(request: Request, exc: Exception) -> ProblemResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    detail = "the server failed; the error is logged"
    return problem(500, "Internal server error", detail, slug="internal-server-error")


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ExplainError, explain_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(Exception, unexpected_error)
