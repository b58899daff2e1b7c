"""Request metrics (count and latency by model, route, status) and GET /metrics."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.metrics import Metrics

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"example": "gradcam_requests_total 1.0"}}}},
)
def metrics(request: Request) -> Response:
    registry = request.app.state.metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class RequestMetricsMiddleware:
    """Pure ASGI, so it times every response, errors included, without buffering bodies."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the client sees if the app fails before answering
        started = time.perf_counter()

        async def send_and_record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            model = self.model_label(scope)
            labels = (model, path, str(status))
            self.metrics.requests.labels(*labels).inc()
            self.metrics.request_seconds.labels(*labels).observe(time.perf_counter() - started)

    @staticmethod
    def model_label(scope: Scope) -> str:
        """The model id when it names a served model: arbitrary ids must not mint labels."""
        model_id = scope.get("path_params", {}).get("model_id")
        if model_id is None:
            return ""
        registry = scope["app"].state.registry
        return str(model_id) if model_id in registry.models else "unknown"
