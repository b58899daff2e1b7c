"""A model as the service holds it: card, Keras model, labels, input spec, Grad-CAMs."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import keras
import numpy as np

from app.engine.fold import FoldPlan, plan_folding
from app.engine.forward import ModelForward
from app.engine.gradcam import GradCam
from app.engine.layers import LayerRef, LayerSpec, candidate_layers, resolve_layer
from app.engine.tokens import TokenHints
from app.preprocess.text import TextSpec
from app.registry.card import ModelCard
from app.registry.loader import Scaling

# Compiled functions kept per model: each (layer, method) a client asks for costs a trace.
MAX_COMPILED_LAYERS = 16


@dataclass
class ServedModel:
    card: ModelCard
    model: keras.Model
    labels: tuple[str, ...]
    scaling: Scaling | None = None
    text_spec: TextSpec | None = None
    device: str = "/CPU:0"
    ready: bool = False
    load_seconds: float = 0.0  # loading plus warming, for the metrics
    _cams: OrderedDict[tuple[tuple[str, ...], str], GradCam] = field(default_factory=OrderedDict)
    _layers: dict[tuple[type, LayerSpec], LayerRef] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fold: FoldPlan | None = None  # planned once, shared by every compiled layer
    _forward: ModelForward | None = None  # the plain forward, for faithfulness scores

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        return tuple(self.model.inputs[0].shape)

    @property
    def n_classes(self) -> int:
        return self.default_gradcam().n_classes

    def label(self, index: int) -> str | None:
        return self.labels[index] if 0 <= index < len(self.labels) else None

    @cached_property
    def candidate_layers(self) -> list[LayerRef]:
        return candidate_layers(self.model, self.token_hints)

    @property
    def token_hints(self) -> TokenHints | None:
        image = self.card.image
        return None if image is None else TokenHints(image.token_grid, image.prefix_tokens)

    def default_gradcam(self) -> GradCam:
        return self.gradcam(None)

    def gradcam(self, layer: LayerSpec, method: str = "gradcam") -> GradCam:
        """The compiled `method` for `layer` (None: the card's default, else automatic)."""
        ref = self._resolve(self._spec(layer))
        with self._lock:
            cam = self._cams.pop((ref.path, method), None)
            if cam is None:
                if self._fold is None:
                    self._fold = plan_folding(self.model, self.device)
                    self._forward = ModelForward(self.model, device=self.device, fold=self._fold)
                cam = GradCam(
                    self.model,
                    ref,
                    method=method,
                    name=self.id,
                    device=self.device,
                    fold=self._fold,
                    forward=self._forward,
                )
            self._cams[(ref.path, method)] = cam  # most recently used last
            while len(self._cams) > MAX_COMPILED_LAYERS:
                self._cams.popitem(last=False)
            return cam

    def compiled(self, layer: LayerSpec, method: str = "gradcam") -> GradCam | None:
        """The `method` for `layer` if it is resolved and compiled already, else None.

        Never blocks for long, so the event loop may call it; `gradcam` may trace.
        """
        with self._lock:
            ref = self._layers.get(_layer_key(self._spec(layer)))
            return None if ref is None else self._cams.get((ref.path, method))

    def _spec(self, layer: LayerSpec) -> LayerSpec:
        return self.card.default_layer if layer is None else layer

    def _resolve(self, spec: LayerSpec) -> LayerRef:
        """Resolving walks every layer (ms on large nets): done once per valid spec."""
        key = _layer_key(spec)
        with self._lock:
            ref = self._layers.get(key)
        if ref is None:
            ref = resolve_layer(self.model, spec, self.token_hints)  # a bad spec is not kept
            with self._lock:
                self._layers[key] = ref
        return ref

    @property
    def trace_count(self) -> int:
        with self._lock:
            forward = 0 if self._forward is None else self._forward.trace_count
            return forward + sum(cam.trace_count for cam in self._cams.values())

    def warm_up(self) -> None:
        """One real explain on a blank input so the first request does not pay the trace.

        Warming also checks the model end to end: a failure here stops start-up.
        """
        started = time.perf_counter()
        cam = self.default_gradcam()
        shape = [1, *(dim or 1 for dim in self.input_shape[1:])]
        blank = np.zeros(shape, dtype=self.model.inputs[0].dtype)
        cam.explain(blank, score=self.card.score)
        self.load_seconds += time.perf_counter() - started
        self.ready = True


def _layer_key(spec: LayerSpec) -> tuple[type, LayerSpec]:
    """Keyed by type too: layer 1 (an index) and "1" (a name) are different layers."""
    return (type(spec), spec)
