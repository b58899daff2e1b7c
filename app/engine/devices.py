"""Device placement: GPU when TensorFlow sees one (memory growth on), else CPU."""

from __future__ import annotations

import contextlib

import tensorflow as tf


def configure_devices() -> None:
    """Let each GPU grow its memory instead of TensorFlow grabbing all of it up front."""
    for gpu in tf.config.list_physical_devices("GPU"):
        # RuntimeError: already initialised, where the setting no longer applies.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)


def resolve_device(requested: str | None) -> str:
    """The device the engine runs on: the one asked for, else the first GPU, else CPU."""
    if requested is not None:
        return requested
    return "/GPU:0" if tf.config.list_logical_devices("GPU") else "/CPU:0"
