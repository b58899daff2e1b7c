"""Exceptions of the client: every failure the caller may meet is a `GradcamError`."""

from __future__ import annotations

from typing import Any


class GradcamError(Exception):
    """Base class of everything this client raises."""


class TransportError(GradcamError):
    """The service could not be reached or the connection broke."""


class Timeout(TransportError):
    """No answer within the client's timeout (connect, write, read or pool)."""


class ProblemError(GradcamError):
    """The service answered with an error: the fields of its problem+json body (RFC 9457).

    `errors` lists per-field validation messages (422 "Invalid request"); `body` keeps
    the whole problem document, `retry_after` the seconds the service asked to wait.
    """

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        type: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {title}: {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.type = type
        self.errors = errors or []
        self.body = body or {}
        self.retry_after = retry_after


def problem_error(status: int, body: object, retry_after: float | None) -> ProblemError:
    """A ProblemError from a response body, problem+json or not."""
    if not isinstance(body, dict):
        text = str(body)[:500] if body else "(no body)"
        return ProblemError(status, "HTTP error", text, retry_after=retry_after)
    return ProblemError(
        int(body.get("status", status)),
        str(body.get("title", "HTTP error")),
        str(body.get("detail", "")),
        type=body.get("type"),
        errors=body.get("errors"),
        body=body,
        retry_after=retry_after,
    )
