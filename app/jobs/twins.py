"""The randomisation check's copies of served models, kept for the version's life.

A cascade re-draws a copy's weights in place; its compiled explainers read the variables,
so one copy and one explainer per (layer, method) serve every audit of the version once
the copy is reset to the served weights. A fresh copy per job traced its explainers again
every job (`python -m bench.soak`: two traces an audit). The twin goes with its version
(a weakref finalizer); a second job wanting it while one runs gets a copy of its own.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from dataclasses import dataclass, field

import keras

from app.engine.evaluation.randomization import model_copy
from app.engine.runtime.gradcam import GradCam
from app.registry.served import ServedModel

MakeCam = Callable[[keras.Model], GradCam]


@dataclass
class Twin:
    copy: keras.Model
    cams: dict[Hashable, GradCam] = field(default_factory=dict)  # (layer, method, head)
    lock: threading.Lock = field(default_factory=threading.Lock)


# By id (a served model is a dataclass, unhashable); dropped when the version is collected.
_twins: dict[int, Twin] = {}
_guard = threading.Lock()


def _twin_of(served: ServedModel) -> Twin:
    with _guard:
        twin = _twins.get(id(served))
        if twin is None:
            twin = _twins[id(served)] = Twin(model_copy(served.model))
            weakref.finalize(served, _twins.pop, id(served), None)
        return twin


@contextlib.contextmanager
def randomizable(
    served: ServedModel, key: Hashable, make_cam: MakeCam
) -> Iterator[tuple[keras.Model, GradCam]]:
    """A copy of the served model with its weights (free to randomise) and its explainer
    for `key`: the version's twin when free, else a copy for this job alone."""
    twin = _twin_of(served)
    if not twin.lock.acquire(blocking=False):
        copy = model_copy(served.model)
        yield copy, make_cam(copy)
        return
    try:
        source: keras.Model = served.model  # Keras: the check is refused at submit otherwise
        twin.copy.set_weights(source.get_weights())
        cam = twin.cams.get(key)
        if cam is None:
            cam = twin.cams[key] = make_cam(twin.copy)
        yield twin.copy, cam
    finally:
        twin.lock.release()
