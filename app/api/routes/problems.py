"""GET /problems and /problems/{slug}: what each problem `type` means and how to fix it.

Every problem+json `type` is a reference to one of these pages, so a person who meets
an error can open it. The pages are small, static HTML (JSON for `Accept:
application/json`), carry no data, and need no API key: a client refused for its key
must be able to read why. Their Content-Security-Policy allows nothing at all: the
pages have no script, style or image.
"""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from app.api.openapi_docs import problem_response
from app.api.problem_types import PROBLEM_TYPES, ProblemType
from app.errors import NotFound

router = APIRouter(tags=["problems"])

PAGE_HEADERS = {
    "content-security-policy": (
        "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "public, max-age=3600",
    "vary": "Accept",
}


def as_json(kind: ProblemType) -> dict[str, str | int | None]:
    return {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "meaning": kind.meaning,
        "fix": kind.fix,
    }


def page_responses(example: object) -> dict[int | str, dict[str, Any]]:
    html_schema = {"schema": {"type": "string"}}
    return {
        200: {
            "description": "A short HTML page; JSON for Accept: application/json",
            "content": {"text/html": html_schema, "application/json": {"example": example}},
        }
    }


@router.get(
    "/problems",
    summary="Every problem type this service answers with",
    responses=page_responses([as_json(PROBLEM_TYPES["invalid-input"])]),
    response_class=Response,
)
def problem_index(request: Request) -> Response:
    if wants_json(request):
        return JSONResponse(
            [as_json(kind) for kind in PROBLEM_TYPES.values()], headers=PAGE_HEADERS
        )
    items = "".join(
        f'<li><a href="/problems/{kind.slug}">{kind.slug}</a>: {kind.status_text} '
        f"{html.escape(kind.title)}</li>"
        for kind in PROBLEM_TYPES.values()
    )
    body = "<p>Every error is application/problem+json; its <code>type</code> is one of:</p>"
    return html_page("Problem types", body + f"<ul>{items}</ul>")


@router.get(
    "/problems/{slug}",
    summary="What a problem type means and how to fix the request",
    responses={
        **page_responses(as_json(PROBLEM_TYPES["invalid-input"])),
        404: problem_response("Not found", "no problem type 'nope'", 404),
    },
    response_class=Response,
)
def problem_page(slug: str, request: Request) -> Response:
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        raise NotFound(f"no problem type {slug!r}; GET /problems lists them")
    if wants_json(request):
        return JSONResponse(as_json(kind), headers=PAGE_HEADERS)
    body = (
        f"<p>Status {kind.status_text}. <code>type</code>: <code>{kind.uri}</code></p>"
        f"<h2>What it means</h2><p>{prose(kind.meaning)}</p>"
        f"<h2>How to fix the request</h2><p>{prose(kind.fix)}</p>"
        '<p><a href="/problems">All problem types</a></p>'
    )
    return html_page(kind.title, body)


def wants_json(request: Request) -> bool:
    """JSON when the Accept header names a JSON type before text/html (curl's */*: HTML)."""
    for part in request.headers.get("accept", "").split(","):
        media_type = part.split(";")[0].strip().lower()
        if media_type in ("application/json", "application/problem+json"):
            return True
        if media_type == "text/html":
            return False
    return False


def prose(text: str) -> str:
    """Escaped text with its `backticked` names as <code>."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(text))


def html_page(title: str, body: str) -> Response:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)} - gradcam-server</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )
    return Response(page, media_type="text/html; charset=utf-8", headers=PAGE_HEADERS)
