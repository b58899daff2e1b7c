"""`AsyncClient`: the same surface as `Client`, for asyncio (every call is awaited)."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable, Sequence
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


class AsyncClient:
    """A gradcam-server at `url`, e.g. `AsyncClient("http://127.0.0.1:8000")`.

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
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.retry = RetryPolicy(retries=retries, max_wait=max_retry_wait)
        self._http = httpx.AsyncClient(
            base_url=url,
            headers=protocol.auth_headers(api_key),
            timeout=timeout,
            transport=transport,
        )
        self._labels: dict[str, tuple[str, ...]] = {}

    async def models(self) -> list[ModelSummary]:
        answer = await self._call(protocol.models_call())
        return [parse_summary(item) for item in answer["models"]]

    async def model(self, model: str) -> ModelInfo:
        info = parse_model(await self._call(protocol.model_call(model)))
        self._labels[model] = info.labels
        return info

    async def explain_image(
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
        return parse_explain(await self._call(call), await self.labels(model))

    async def explain_text(
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
        return parse_explain(await self._call(call), await self.labels(model))

    async def audit(
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
        answer = await self._call(audit_call(model, instances, options, version))
        return str(answer["job"])

    async def job(self, job: str) -> dict[str, Any]:
        """The job's status, progress and (when done) result."""
        return dict(await self._call(Call("GET", job_path(job))))

    async def cancel_job(self, job: str) -> dict[str, Any]:
        return dict(await self._call(Call("DELETE", job_path(job))))

    async def audit_report(self, job: str) -> str:
        """A finished audit's HTML report."""
        return str(await self._call(Call("GET", f"{job_path(job)}/report", text=True)))

    async def wait_for_job(
        self,
        job: str,
        *,
        poll: float = 0.5,
        timeout: float | None = None,
        on_progress: Callable[[int, int], Awaitable[None] | None] | None = None,
    ) -> dict[str, Any]:
        """Poll until the job is done, failed or cancelled (or `timeout` s: TimeoutError),
        sleeping with `asyncio.sleep` between polls; `on_progress` may be a coroutine
        function."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            state = await self.job(job)
            if on_progress is not None:
                reported = on_progress(state["progress"]["done"], state["progress"]["total"])
                if inspect.isawaitable(reported):
                    await reported
            if state["status"] in FINISHED:
                return state
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"job {job} still {state['status']} after {timeout} s")
            await asyncio.sleep(poll)

    async def labels(self, model: str) -> tuple[str, ...]:
        """The model's class labels (asked once per model, then remembered)."""
        if model not in self._labels:
            await self.model(model)
        return self._labels[model]

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """Any other call, with the same retries and errors: the answer's JSON."""
        return await self._call(Call(method, path, json, content, headers))

    async def _call(self, call: Call) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
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
            await asyncio.sleep(wait)

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()
