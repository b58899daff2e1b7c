"""Annotated dependency aliases: what a route needs, taken from the app's state.

They are `async def` because they never block: FastAPI runs a plain `def` dependency
on the thread pool, a thread hop per dependency per request (seen under load).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.pipeline import BatcherPool
from app.registry.registry import Registry
from app.registry.served import ServedModel
from app.settings import Settings


async def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_batchers(request: Request) -> BatcherPool:
    batchers: BatcherPool = request.app.state.batchers
    return batchers


RegistryDep = Annotated[Registry, Depends(get_registry)]
BatchersDep = Annotated[BatcherPool, Depends(get_batchers)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_model(model_id: str, registry: RegistryDep) -> ServedModel:
    return registry.get(model_id)


ModelDep = Annotated[ServedModel, Depends(get_model)]
