"""The problem types this service answers with: what each means and how to fix the request.

A problem's `type` is `/problems/<slug>`, a relative reference (RFC 9457 section 3.1.1)
that this service itself answers (app/api/routes/problems.py), so it points nowhere else
and works at whatever host the service runs. The slugs are published names that clients
may match on: they never change, even when a title does.
"""

from __future__ import annotations

from dataclasses import dataclass

PROBLEM_BASE = "/problems/"


@dataclass(frozen=True)
class ProblemType:
    slug: str
    title: str
    status: int | None  # None: the framework's other statuses (http-error)
    meaning: str
    fix: str

    @property
    def uri(self) -> str:
        return PROBLEM_BASE + self.slug

    @property
    def status_text(self) -> str:
        return "4xx / 5xx" if self.status is None else str(self.status)


def problem_uri(slug: str) -> str:
    return PROBLEM_BASE + slug


_TYPES = (
    ProblemType(
        "validation",
        "Invalid request",
        422,
        "The body, form or query does not match the API's schema: an unknown field or "
        "parameter, a value of the wrong type, a number out of its range, malformed JSON. "
        "The problem's `errors` lists each offending field with its message.",
        "Correct the fields named in `errors`; the OpenAPI document (/openapi.json, /docs) "
        "gives every field, its type and its range.",
    ),
    ProblemType(
        "invalid-input",
        "Invalid input",
        422,
        "The request is well-formed but a value cannot be used with this model: a target "
        "out of the model's classes, an unknown or non-spatial layer, text sent to an image "
        "model, too many tokens, a max_channels above the server's cap, or an option that "
        "does not fit the others (overlay=layer with overlay_format=jpeg).",
        "The `detail` names the value. GET /v1/models/{model_id} lists the model's task, "
        "labels (targets are their indices) and candidate layers.",
    ),
    ProblemType(
        "mask-size-mismatch",
        "Mask size mismatch",
        422,
        "A region target's mask is not at the uploaded image's size; the `detail` gives "
        "both sizes.",
        "Send the mask as a PNG of exactly the uploaded image's width and height (non- "
        "zero = inside); the service resizes it to the output's grid itself.",
    ),
    ProblemType(
        "empty-region",
        "Empty region",
        422,
        "A segmentation target's region has no pixel: the mask is blank at the output's "
        "grid, or the class is predicted on no pixel of the image.",
        "Send a mask that covers part of the image, or a class the answer's "
        "`segmentation` map holds.",
    ),
    ProblemType(
        "box-outside-image",
        "Box outside image",
        422,
        "A detection target's box is not inside the uploaded image, or has x0 >= x1 or y0 >= y1.",
        "Send [x0, y0, x1, y1] in the uploaded image's pixels, 0 <= x0 < x1 <= width, 0 "
        "<= y0 < y1 <= height.",
    ),
    ProblemType(
        "no-matching-box",
        "No matching box",
        422,
        "No box the model predicts overlaps the target's box with IoU at least the card's "
        "iou_threshold; the `detail` names the best IoU found.",
        "Take a box from the answer's `detections` (explain without targets first), or "
        "one closer to an object the model finds.",
    ),
    ProblemType(
        "unknown-output",
        "Unknown output",
        422,
        "A target names an output the model does not explain; the `detail` lists the "
        "outputs it does.",
        "Name one of the listed outputs (GET /v1/models/{model_id}); a request explains "
        "one output.",
    ),
    ProblemType(
        "target-not-taken",
        "Target not taken",
        422,
        "A target object the explained output's head does not take: a mask on an output "
        "that is not a segmentation, a box on one that is not a detection.",
        "Send a class index, or explain a segmentation (mask) or detection (box) output; "
        "docs/targets.md lists what each head takes.",
    ),
    ProblemType(
        "invalid-image",
        "Invalid image",
        400,
        "The image cannot be used: not valid base64, not a decodable image, truncated, "
        "unreadable EXIF, larger than the server's pixel limits, or a decompression bomb.",
        "Send a complete JPEG, PNG, WebP or GIF file within the limits the `detail` gives "
        "(GRADCAM_MAX_IMAGE_PIXELS, GRADCAM_MAX_IMAGE_SIDE); in JSON, as standard base64.",
    ),
    ProblemType(
        "invalid-form",
        "Invalid form",
        400,
        "The multipart/form-data body is malformed (a missing or wrong boundary, a broken part).",
        "Let your HTTP client build the form (curl -F, requests' files=, FormData in a "
        "browser) rather than writing the Content-Type by hand.",
    ),
    ProblemType(
        "bad-request",
        "Bad request",
        400,
        "The request cannot be served as sent, for a reason no more specific type covers.",
        "The `detail` says what to change.",
    ),
    ProblemType(
        "invalid-predict-request",
        "Invalid predict request",
        400,
        "A `:predict` body is not a TensorFlow Serving REST request this model can take: "
        "neither `instances` nor `inputs`, another `signature_name`, tensors of the wrong "
        "shape, or token ids outside the vocabulary.",
        "Send TF Serving's row (`instances`) or columnar (`inputs`) format with the model's "
        'input shape (GET /v1/models/{model_id}), or `{"b64": ...}` images.',
    ),
    ProblemType(
        "unauthorized",
        "Unauthorized",
        401,
        "This service has API keys switched on and the request carried none, or a key it "
        "does not know. Health probes and these pages need no key.",
        "Send `Authorization: Bearer <key>` or `X-API-Key: <key>`, with a key the "
        "operator gave you; every key a request carries must be valid.",
    ),
    ProblemType(
        "not-found",
        "Not found",
        404,
        "Nothing is served at this path: an unknown route, page file or problem type.",
        "Check the path against the OpenAPI document; models are under /v1/models.",
    ),
    ProblemType(
        "model-not-found",
        "Model not found",
        404,
        "No model with this id is in the registry.",
        "GET /v1/models lists the ids this service serves; ids are case-sensitive.",
    ),
    ProblemType(
        "job-not-found",
        "Job not found",
        404,
        "No job with this id: it was never submitted to this instance, or it finished and "
        "its result expired (GRADCAM_JOBS_KEEP_SECONDS).",
        "Submit the audit again (POST /v1/models/{model_id}:audit); fetch results sooner.",
    ),
    ProblemType(
        "method-not-allowed",
        "Method not allowed",
        405,
        "The route exists but does not take this HTTP method.",
        "Use a method the `Allow` header lists (explaining is POST, reading is GET).",
    ),
    ProblemType(
        "not-acceptable",
        "Not acceptable",
        406,
        "The `Accept` header asks for an image, but this answer has no overlay image: a "
        "text model, or overlay=false.",
        "Ask for application/json, or for an image model with the overlay on.",
    ),
    ProblemType(
        "request-timeout",
        "Request timeout",
        408,
        "The request body stopped arriving before it was complete (a slow or stalled client).",
        "Send the whole body promptly; retry on a working connection.",
    ),
    ProblemType(
        "job-not-finished",
        "Job not finished",
        409,
        "The job has no report yet: it is queued or running, or it failed or was cancelled.",
        "GET /v1/jobs/{job} until its status is done; a failed job's `error` says why.",
    ),
    ProblemType(
        "payload-too-large",
        "Payload too large",
        413,
        "The body, or one form field, is larger than this server's limit.",
        "Send a smaller image (the limits are GRADCAM_MAX_IMAGE_BYTES for image bodies and "
        "forms, GRADCAM_MAX_JSON_BYTES for JSON) or fewer instances per request.",
    ),
    ProblemType(
        "unsupported-media-type",
        "Unsupported media type",
        415,
        "The Content-Type is not one this route reads, or the image is in a format it "
        "does not accept.",
        "Send application/json, multipart/form-data, or a raw image/jpeg, image/png, "
        "image/webp or image/gif body.",
    ),
    ProblemType(
        "jobs-full",
        "Too many jobs",
        429,
        "As many jobs as this server holds are queued or running "
        "(GRADCAM_JOBS_MAX_RUNNING + GRADCAM_JOBS_MAX_QUEUED).",
        "Retry after the seconds in `Retry-After`, or cancel a job of yours you no longer need.",
    ),
    ProblemType(
        "client-closed-request",
        "Client closed request",
        499,
        "The client disconnected before the answer was ready, so the work was cancelled. "
        "It appears in logs and metrics; no client reads it.",
        "Wait for the answer, or raise the client's timeout.",
    ),
    ProblemType(
        "internal-server-error",
        "Internal server error",
        500,
        "The server failed on this request: a bug, not a fault of the request. The error "
        "is logged with its traceback.",
        "Retry once; if it persists, report it with the time and the request.",
    ),
    ProblemType(
        "model-not-ready",
        "Model not ready",
        503,
        "The model is still loading or warming up.",
        "Retry shortly; GET /v2/models/{model_id}/ready answers 200 once it is ready.",
    ),
    ProblemType(
        "overloaded",
        "Overloaded",
        503,
        "The model's queue is full: more requests are waiting than the server will hold.",
        "Retry after the seconds in `Retry-After`, with backoff; send fewer requests at once.",
    ),
    ProblemType(
        "shutting-down",
        "Shutting down",
        503,
        "This instance is draining before it stops and takes no new work.",
        "Send the request again; a load balancer sends it to another instance.",
    ),
    ProblemType(
        "deadline-exceeded",
        "Deadline exceeded",
        504,
        "The explanation took longer than the server's time limit (GRADCAM_REQUEST_TIMEOUT).",
        "Retry when the server is less busy, or ask for less: fewer instances or targets, "
        "a gradient method rather than scorecam or ablationcam, fewer max_channels.",
    ),
    ProblemType(
        "remote-model-failed",
        "Remote model failed",
        502,
        "The model is a remote endpoint (its card names `remote`) and its `:predict` failed: "
        "unreachable after the retries, an error status, or an answer that is not one "
        "prediction vector per instance. The `detail` names the remote and what it said.",
        "Check the remote model server (its logs, its `/v1/models/NAME` status); retry once "
        "it answers.",
    ),
    ProblemType(
        "remote-model-timeout",
        "Remote model timed out",
        504,
        "A remote model's `:predict` did not answer within the card's `remote_timeout`.",
        "Retry when the remote is less busy; ask for fewer perturbations (rise_masks, a "
        "larger occlusion_stride); or raise the card's remote_timeout.",
    ),
    ProblemType(
        "http-error",
        "HTTP error",
        None,
        "Another HTTP error raised by the web framework; the `status` gives its code.",
        "The `detail` says what went wrong.",
    ),
)
PROBLEM_TYPES: dict[str, ProblemType] = {kind.slug: kind for kind in _TYPES}
