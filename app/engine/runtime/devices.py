"""Device placement: GPU when TensorFlow sees one (memory growth on), else CPU."""

from __future__ import annotations

import contextlib
import os

import tensorflow as tf

from app.errors import ModelError


def configure_devices(intra_op_threads: int | None = None) -> None:
    """GPU memory growth on; CPU threads per TensorFlow op when `intra_op_threads` is set.

    Both only take effect before TensorFlow initialises: a second app in one process
    (tests) keeps the first one's setting.
    """
    for gpu in tf.config.list_physical_devices("GPU"):
        # Let each GPU grow its memory instead of TensorFlow grabbing all of it up front.
        with contextlib.suppress(RuntimeError):
            tf.config.experimental.set_memory_growth(gpu, True)
    if intra_op_threads is not None:
        with contextlib.suppress(RuntimeError):
            tf.config.threading.set_intra_op_parallelism_threads(intra_op_threads)


def cpu_count() -> int:
    """CPUs this process may run on (a container's CPU set, not the host's)."""
    return len(os.sched_getaffinity(0))


def is_gpu(device: str | None) -> bool:
    """Whether the engine will run on a GPU: the one asked for, else any TensorFlow sees."""
    if device is not None:
        return "GPU" in device.upper()
    return bool(tf.config.list_physical_devices("GPU"))


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
