"""Refusing a request from ASGI middleware with the same problem+json as the handlers.

Middleware runs outside the app's exception handlers, so it cannot raise: it renders
the domain error through the one problem handler and sends that, body unread.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from app.api.problems import explain_error
from app.errors import ExplainError


async def refuse(error: ExplainError, scope: Scope, receive: Receive, send: Send) -> None:
    """Answer with `error` without reading the body."""
    response = await explain_error(Request(scope), error)
    if carries_body(Headers(scope=scope)):
        # The body is left unread: close rather than make the server drain it for reuse.
        response.headers["connection"] = "close"
    await response(scope, receive, send)


def carries_body(headers: Headers) -> bool:
    """Whether the request announces a body (a length above 0, or chunked)."""
    return headers.get("content-length", "0").strip() != "0" or "transfer-encoding" in headers
