"""What both clients share: the calls as (method, path, body), answers and errors,
and the 503 retry policy. The sync and async clients only move the bytes."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from gradcam_client.errors import ProblemError, Timeout, TransportError, problem_error
from gradcam_client.inputs import (
    ImagesInput,
    as_image_list,
    explain_parameters,
    image_bytes,
    image_instances,
    media_type,
    query_parameters,
    text_instances,
)

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=5.0)
# One image larger than this goes as a raw body, not base64 in JSON: the service caps
# JSON bodies at 1 MiB by default (~750 KB of image) and raw images at 8 MiB.
RAW_BODY_BYTES = 512 * 1024
Overlay = bool | str  # True, False or "layer"
Target = int | Mapping[str, Any]  # a class index, or a target object (gradcam_client.targets)


@dataclass(frozen=True)
class RetryPolicy:
    """How a 503 (overloaded, not ready, draining) is retried.

    `retries` more attempts at most; each waits the answer's Retry-After (seconds or an
    HTTP date), `default_wait` when it has none, and never longer than `max_wait`.
    """

    retries: int = 3
    max_wait: float = 30.0
    default_wait: float = 1.0

    def wait_before_retry(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before another attempt, or None: give up and raise."""
        if response.status_code != 503 or attempt >= self.retries:
            return None
        asked = retry_after(response)
        return min(self.max_wait, self.default_wait if asked is None else asked)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: dict[str, Any] | None = None  # sent as JSON
    content: bytes | None = None  # or sent as is, with `headers`
    headers: dict[str, str] | None = None
    params: dict[str, str] | None = None
    text: bool = False  # the answer is text (an HTML report), not JSON


def models_call() -> Call:
    return Call("GET", "/v1/models")


def model_call(model: str) -> Call:
    return Call("GET", f"/v1/models/{quote(model, safe='')}")


def explain_path(model: str) -> str:
    return f"/v1/models/{quote(model, safe='')}:explain"


def explain_call(model: str, instances: list[dict[str, Any]], options: dict[str, Any]) -> Call:
    body = {"instances": instances, "parameters": explain_parameters(**options)}
    return Call("POST", explain_path(model), body)


def image_call(model: str, files: list[bytes], options: dict[str, Any]) -> Call:
    """Images as JSON instances; one large image of a known type as a raw body."""
    kind = media_type(files[0]) if len(files) == 1 else None
    objects = any(isinstance(t, Mapping) for t in options.get("targets") or ())
    if kind is None or len(files[0]) <= RAW_BODY_BYTES or objects:  # objects need JSON
        return explain_call(model, image_instances(files), options)
    headers = {"content-type": kind}
    return Call("POST", explain_path(model), None, files[0], headers, query_parameters(options))


def explain_image_call(
    model: str,
    image: ImagesInput,
    *,
    targets: Sequence[Target] | None,
    method: str | None,
    layer: int | str | Sequence[int | str] | None,
    overlay: Overlay | None,
    metrics: Sequence[str] | None,
    parameters: dict[str, Any],
) -> Call:
    options = dict(
        parameters,
        targets=list(targets) if targets is not None else None,
        method=method,
        layer=layer,
        overlay=overlay,
        metrics=list(metrics) if metrics is not None else None,
    )
    return image_call(model, [image_bytes(item) for item in as_image_list(image)], options)


def explain_text_call(
    model: str,
    *,
    text: str | Sequence[str] | None,
    tokens: Sequence[str] | None,
    ids: Sequence[int] | None,
    targets: Sequence[Target] | None,
    method: str | None,
    layer: int | str | Sequence[int | str] | None,
    parameters: dict[str, Any],
) -> Call:
    options = dict(
        parameters,
        targets=list(targets) if targets is not None else None,
        method=method,
        layer=layer,
    )
    return explain_call(model, text_instances(text, tokens, ids), options)


def answer(response: httpx.Response, text: bool = False) -> Any:
    """The JSON (or with `text`, the text) of a 2xx answer; a ProblemError for anything else."""
    if response.is_success:
        return response.text if text else response.json()
    try:
        body: object = response.json()
    except ValueError:
        body = response.text
    raise problem_error(response.status_code, body, retry_after(response))


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds: delta-seconds or an HTTP date."""
    value = response.headers.get("retry-after", "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def transport_error(exc: httpx.TransportError, call: Call, base_url: httpx.URL) -> TransportError:
    where = f"{call.method} {base_url.join(call.path)}"
    if isinstance(exc, httpx.TimeoutException):
        return Timeout(f"{where}: no answer in time ({type(exc).__name__}: {exc})")
    return TransportError(f"{where}: {type(exc).__name__}: {exc}")


def auth_headers(api_key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {api_key}"} if api_key else {}


__all__ = ["DEFAULT_TIMEOUT", "Call", "ProblemError", "RetryPolicy"]
