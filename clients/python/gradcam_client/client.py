"""`Client`: the synchronous client (thread-safe: one httpx connection pool)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self

import httpx

from gradcam_client import protocol
from gradcam_client.audits import FINISHED, audit_call, job_path
from gradcam_client.inputs import ImagesInput
from gradcam_client.protocol import DEFAULT_TIMEOUT, Call, Overlay, RetryPolicy, Target
from gradcam_client.results import (
    ExplainResult,
    ModelInfo,
    ModelSummary,
    parse_explain,
    parse_model,
    parse_summary,
)


class Client:
    """A gradcam-server at `url`, e.g. `Client("http://127.0.0.1:8000")`.

    `timeout`: seconds or an `httpx.Timeout`; `retries`/`max_retry_wait`: how a 503 is
    retried (see RetryPolicy). Raises ProblemError for error answers, Timeout and
    TransportError when the service cannot be reached.
    """

    def __init__(
        self,
        url: str,
        api_key: str | None = None,
        *,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = 3,
        max_retry_wait: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.retry = RetryPolicy(retries=retries, max_wait=max_retry_wait)
        self._http = httpx.Client(
            base_url=url,
            headers=protocol.auth_headers(api_key),
            timeout=timeout,
            transport=transport,
        )
        self._labels: dict[str, tuple[str, ...]] = {}

    def models(self) -> list[ModelSummary]:
        answer = self._call(protocol.models_call())
        return [parse_summary(item) for item in answer["models"]]

    def model(self, model: str) -> ModelInfo:
        info = parse_model(self._call(protocol.model_call(model)))
        self._labels[model] = info.labels
        return info

    def explain_image(
        self,
        model: str,
        image: ImagesInput,
        *,
        targets: Sequence[Target] | None = None,
        method: str | None = None,
        layer: int | str | Sequence[int | str] | None = None,
        overlay: Overlay | None = None,
        metrics: Sequence[str] | None = None,
        **parameters: Any,
    ) -> ExplainResult:
        """Explain one image (path, bytes, PIL image, uint8 array) or a list of them."""
        call = protocol.explain_image_call(
            model,
            image,
            targets=targets,
            method=method,
            layer=layer,
            overlay=overlay,
            metrics=metrics,
            parameters=parameters,
        )
        return parse_explain(self._call(call), self.labels(model))

    def explain_text(
        self,
        model: str,
        *,
        text: str | Sequence[str] | None = None,
        tokens: Sequence[str] | None = None,
        ids: Sequence[int] | None = None,
        targets: Sequence[Target] | None = None,
        method: str | None = None,
        layer: int | str | Sequence[int | str] | None = None,
        **parameters: Any,
    ) -> ExplainResult:
        """Explain free text (one or a list), tokens, tokens with their ids, or ids."""
        call = protocol.explain_text_call(
            model,
            text=text,
            tokens=tokens,
            ids=ids,
            targets=targets,
            method=method,
            layer=layer,
            parameters=parameters,
        )
        return parse_explain(self._call(call), self.labels(model))

    def audit(
        self,
        model: str,
        instances: list[dict[str, Any]],
        *,
        methods: Sequence[str] | None = None,
        checks: Sequence[str] | None = None,
        version: str | None = None,
        **parameters: Any,
    ) -> str:
        """Start an audit job (instances from `gradcam_client.audits.audit_instance`);
        returns the job's path."""
        options = dict(
            parameters, methods=methods and list(methods), checks=checks and list(checks)
        )
        answer = self._call(audit_call(model, instances, options, version))
        return str(answer["job"])

    def job(self, job: str) -> dict[str, Any]:
        """The job's status, progress and (when done) result."""
        return dict(self._call(Call("GET", job_path(job))))

    def cancel_job(self, job: str) -> dict[str, Any]:
        return dict(self._call(Call("DELETE", job_path(job))))

    def audit_report(self, job: str) -> str:
        """A finished audit's HTML report."""
        return str(self._call(Call("GET", f"{job_path(job)}/report", text=True)))

    def wait_for_job(
        self,
        job: str,
        *,
        poll: float = 0.5,
        timeout: float | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is done, failed or cancelled (or `timeout` s: TimeoutError)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = self.job(job)
            if on_progress is not None:
                on_progress(state["progress"]["done"], state["progress"]["total"])
            if state["status"] in FINISHED:
                return state
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job} still {state['status']} after {timeout} s")
            time.sleep(poll)

    def labels(self, model: str) -> tuple[str, ...]:
        """The model's class labels (asked once per model, then remembered)."""
        if model not in self._labels:
            self.model(model)
        return self._labels[model]

    def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Any other call, with the same retries and errors: the answer's JSON."""
        return self._call(Call(method, path, json, content, headers))

    def _call(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    call.method,
                    call.path,
                    json=call.body,
                    content=call.content,
                    headers=call.headers,
                    params=call.params,
                )
            except httpx.TransportError as exc:
                raise protocol.transport_error(exc, call, self._http.base_url) from exc
            wait = self.retry.wait_before_retry(response, attempt)
            if wait is None:
                return protocol.answer(response, call.text)
            attempt += 1
            time.sleep(wait)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
