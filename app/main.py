"""create_app(settings) -> FastAPI: lifespan, routers, error handlers, OpenAPI."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from starlette.concurrency import run_in_threadpool

from app import __version__
from app.api import instrumentation
from app.api.body_limits import BodyLimitMiddleware
from app.api.instrumentation import RequestMetricsMiddleware
from app.api.openapi_docs import add_request_schemas
from app.api.problems import install_problem_handlers
from app.api.routes import explain, health, jobs, models, predict, problems
from app.api.routes.web import PUBLIC_PATHS, add_web_routes
from app.api.security import ApiKeyMiddleware, document_api_keys, load_api_keys
from app.jobs.audit_job import Verdicts
from app.jobs.manager import JobManager
from app.metrics import Metrics
from app.pipeline import BatcherPool, configure_engine, watch_models
from app.registry.policy import parse_policy
from app.registry.registry import Registry, load_registry
from app.registry.watcher import FolderWatcher
from app.settings import Settings
from app.shutdown import DrainMiddleware, Lifecycle

DESCRIPTION = (
    "Explains the predictions of Keras image and text classifiers with Grad-CAM: "
    "JSON heatmaps and base64 overlay images. Errors are application/problem+json."
)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_engine(settings)
        policy = parse_policy(settings.model_version_policy)
        registry = await run_in_threadpool(
            lambda: load_registry(settings.models_dir, device=settings.device, policy=policy)
        )
        if settings.warm_up:
            await run_in_threadpool(registry.warm_up)
        else:
            for served in registry.all_versions():
                served.ready = True
        app.state.registry = registry
        app.state.batchers = BatcherPool(registry, settings, metrics)
        watch_models(metrics, registry)
        watching = start_watching(registry, settings)
        yield
        if watching is not None:
            watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watching
        await app.state.jobs.close()  # running audits stop at their next step
        await app.state.batchers.close()
        registry.close_remotes()

    app = FastAPI(
        title="gradcam-server",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.registry = Registry()  # empty and not ready until the lifespan loads it
    app.state.batchers = BatcherPool(app.state.registry, settings, metrics)
    app.state.metrics = metrics
    app.state.jobs = JobManager(
        settings.jobs_max_running, settings.jobs_max_queued, settings.jobs_keep_seconds
    )
    app.state.verdicts = Verdicts()
    install_problem_handlers(app)
    app.state.lifecycle = Lifecycle()
    api_keys = load_api_keys(settings)
    app.state.requires_api_key = bool(api_keys)
    web_enabled = settings.docs_enabled and settings.web_enabled
    # Each add_middleware wraps the app so far: the last added runs first. Outermost
    # first: metrics, CORS (answers preflights, labels refusals), drain, key, body limit.
    app.add_middleware(BodyLimitMiddleware, settings=settings)
    if api_keys:
        public = PUBLIC_PATHS if web_enabled else ()
        app.add_middleware(ApiKeyMiddleware, keys=api_keys, public_paths=public)
    app.add_middleware(DrainMiddleware, lifecycle=app.state.lifecycle)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["*"],
            expose_headers=["Retry-After", "WWW-Authenticate", "X-Model-Version"],
        )
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    for module in (explain, predict, models, jobs, health, instrumentation, problems):
        app.include_router(module.router)
    if web_enabled:
        add_web_routes(app)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


def start_watching(registry: Registry, settings: Settings) -> asyncio.Task[None] | None:
    """Poll the models folder for new and removed versions (none when poll_seconds = 0)."""
    if settings.poll_seconds <= 0:
        return None
    watcher = FolderWatcher(
        registry,
        settings.models_dir,
        policy=parse_policy(settings.model_version_policy),
        device=settings.device,
        warm_up=settings.warm_up,
    )
    return asyncio.create_task(watcher.run(settings.poll_seconds), name="model-folder-watcher")


def openapi_document(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        app.openapi_schema = add_request_schemas(schema)
        if app.state.requires_api_key:
            document_api_keys(app.openapi_schema)
    return app.openapi_schema
