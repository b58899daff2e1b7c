"""Annotated dependency aliases: what a route needs, taken from the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from app.registry.registry import Registry
from app.registry.served import ServedModel
from app.settings import Settings


def get_registry(request: Request) -> Registry:
    registry: Registry = request.app.state.registry
    return registry


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


RegistryDep = Annotated[Registry, Depends(get_registry)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_model(model_id: str, registry: RegistryDep) -> ServedModel:
    return registry.get(model_id)


ModelDep = Annotated[ServedModel, Depends(get_model)]
