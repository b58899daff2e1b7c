"""Domain errors that carry their HTTP status; one handler turns them into problem+json.

Every layer below the API raises these; the API never needs to translate.
"""

from __future__ import annotations


class ExplainError(Exception):
    """Base class: a request-level failure with a status, a short title and a detail."""

    status: int = 400
    title: str = "Bad request"
    # The problem type, `/problems/<type_slug>`: a published name clients may match on, so
    # it never changes with the title. Every class names its own (tests/api/test_problem_pages.py).
    type_slug: str = "bad-request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.headers = headers or {}
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title


class InvalidInput(ExplainError):
    """The request is well-formed but a value cannot be used (422)."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"


class InvalidImage(ExplainError):
    """The upload is not a decodable image or breaks an image limit (400)."""

    status = 400
    title = "Invalid image"
    type_slug = "invalid-image"


class InvalidForm(ExplainError):
    """The multipart body is malformed (400)."""

    status = 400
    title = "Invalid form"
    type_slug = "invalid-form"


class NotFound(ExplainError):
    """No such file or page at this path (404)."""

    status = 404
    title = "Not found"
    type_slug = "not-found"


class UnsupportedMediaType(ExplainError):
    status = 415
    title = "Unsupported media type"
    type_slug = "unsupported-media-type"


class PayloadTooLarge(ExplainError):
    status = 413
    title = "Payload too large"
    type_slug = "payload-too-large"


class NotAcceptable(ExplainError):
    status = 406
    title = "Not acceptable"
    type_slug = "not-acceptable"


class ModelNotFound(ExplainError):
    status = 404
    title = "Model not found"
    type_slug = "model-not-found"


class ModelNotReady(ExplainError):
    status = 503
    title = "Model not ready"
    type_slug = "model-not-ready"


class Overloaded(ExplainError):
    """The model's queue is full: come back later (sent with Retry-After)."""

    status = 503
    title = "Overloaded"
    type_slug = "overloaded"


class DeadlineExceeded(ExplainError):
    status = 504
    title = "Deadline exceeded"
    type_slug = "deadline-exceeded"


class ClientClosedRequest(ExplainError):
    """The client disconnected before the answer (nginx's 499; nobody reads it)."""

    status = 499
    title = "Client closed request"
    type_slug = "client-closed-request"


class Unauthorized(ExplainError):
    """No valid API key; sent with WWW-Authenticate."""

    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class RequestTimeout(ExplainError):
    """The request body stopped arriving: a slow or stalled client."""

    status = 408
    title = "Request timeout"
    type_slug = "request-timeout"


class ShuttingDown(ExplainError):
    """The server is draining after SIGTERM: send the request to another instance."""

    status = 503
    title = "Shutting down"
    type_slug = "shutting-down"


class RemoteModelFailed(ExplainError):
    """A remote model's `:predict` failed, could not be reached, or answered nonsense."""

    status = 502
    title = "Remote model failed"
    type_slug = "remote-model-failed"


class RemoteModelTimeout(ExplainError):
    """A remote model's `:predict` did not answer within the card's remote_timeout."""

    status = 504
    title = "Remote model timed out"
    type_slug = "remote-model-timeout"


class JobNotFound(ExplainError):
    """No job with this id: never submitted here, or finished and expired."""

    status = 404
    title = "Job not found"
    type_slug = "job-not-found"


class JobsFull(ExplainError):
    """As many jobs as the server holds are queued or running (sent with Retry-After)."""

    status = 429
    title = "Too many jobs"
    type_slug = "jobs-full"


class JobNotFinished(ExplainError):
    """The job has no report: it is still running, or it failed or was cancelled."""

    status = 409
    title = "Job not finished"
    type_slug = "job-not-finished"


class MaskSizeMismatch(InvalidInput):
    """A region mask whose size is not the uploaded image's."""

    title = "Mask size mismatch"
    type_slug = "mask-size-mismatch"


class EmptyRegion(InvalidInput):
    """A region target with no pixel inside (a blank mask, or a class predicted nowhere)."""

    title = "Empty region"
    type_slug = "empty-region"


class BoxOutsideImage(InvalidInput):
    """A box target not inside the uploaded image, or with no area."""

    title = "Box outside image"
    type_slug = "box-outside-image"


class NoMatchingBox(InvalidInput):
    """A box target that no predicted box overlaps with IoU >= the card's iou_threshold."""

    title = "No matching box"
    type_slug = "no-matching-box"


class UnknownOutput(InvalidInput):
    """A target naming an output the model does not explain."""

    title = "Unknown output"
    type_slug = "unknown-output"


class TargetNotTaken(InvalidInput):
    """An object target (a mask, a box) on an output whose head does not take it."""

    title = "Target not taken"
    type_slug = "target-not-taken"


class ModelError(Exception):
    """A model or its card cannot be loaded or served: a start-up error, not a request error."""
