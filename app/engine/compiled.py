"""One way to compile the engine's steps, and the count of their traces in this process."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf


class TraceCount:
    """Traces of every compiled step since the process started, of every model and
    version, loaded or unloaded since: flat once warm, so a rise is a retrace."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # two models may trace at once, on two threads
        self._count = 0

    def add(self) -> None:
        with self._lock:
            self._count += 1

    @property
    def count(self) -> int:
        return self._count


TRACES = TraceCount()


@tf.autograph.experimental.do_not_convert  # type: ignore[untyped-decorator]
def _count_trace() -> None:
    TRACES.add()  # runs once per trace: a compiled call does not run Python


def compile_step(step: Callable[..., Any], signature: Sequence[tf.TensorSpec]) -> Any:
    """`tf.function(step)` with a fixed input signature (batch dimension None).

    TensorFlow counts traces per Python code object, so the one trace each model's step
    takes at start-up, summed over several models, reads as "frequent retracing" (a
    warning that sends a reader looking for a bug that is not there). Wrapped in a
    partial, the count is kept per compiled function: a real retrace still warns.
    Each trace also adds one to `TRACES` (`functools.wraps` keeps the step's argument
    names, which name the graph's inputs).
    """

    @functools.wraps(step)
    def traced(*args: Any) -> Any:
        _count_trace()
        return step(*args)

    return tf.function(functools.partial(traced), input_signature=signature)
