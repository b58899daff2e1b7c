"""One way to compile the engine's steps."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf


def compile_step(step: Callable[..., Any], signature: Sequence[tf.TensorSpec]) -> Any:
    """`tf.function(step)` with a fixed input signature (batch dimension None).

    TensorFlow counts traces per Python code object, so the one trace each model's step
    takes at start-up, summed over several models, reads as "frequent retracing" (a
    warning that sends a reader looking for a bug that is not there). Wrapped in a
    partial, the count is kept per compiled function: a real retrace still warns.
    """
    return tf.function(functools.partial(step), input_signature=signature)
