"""Device placement: GPU when TensorFlow sees one (memory growth on), else CPU."""

from __future__ import annotations

import contextlib

import tensorflow as tf

from app.errors import ModelError


def configure_devices() -> None:
    """Let each GPU grow its memory instead of TensorFlow grabbing all of it up front."""
    for gpu in tf.config.list_physical_devices("GPU"):
        # RuntimeError: already initialised, where the setting no longer applies.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def resolve_device(requested: str | None) -> str:
    """The device the engine runs on: the one asked for, else the first GPU, else CPU.

    A device that does not exist is an error: TensorFlow would silently fall back.
    """
    available = [
        device.name.replace("/device:", "/") for device in tf.config.list_logical_devices()
    ]
    if requested is None:
        return next((name for name in available if "GPU" in name), "/CPU:0")
    if requested.upper() not in (name.upper() for name in available):
        raise ModelError(f"device {requested} is not available; devices: {', '.join(available)}")
    return requested
