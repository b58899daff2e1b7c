"""A model as the service holds it: card, model (Keras, a frozen SavedModel graph, or a
remote endpoint), labels, input spec, Grad-CAMs."""

from __future__ import annotations

import io
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cached_property

import keras
import numpy as np
import tensorflow as tf
from PIL import Image
from tensorflow.core.framework import types_pb2

from app.engine.capture.frozen.capture import FrozenDecoder, FrozenForward
from app.engine.capture.frozen.model import FrozenModel
from app.engine.capture.keras.fold import FoldPlan, plan_folding
from app.engine.capture.keras.forward import ModelForward
from app.engine.layers.lookup import candidate_layers, resolve_layer
from app.engine.layers.refs import LayerRef, LayerSpec
from app.engine.layers.tokens import TokenHints
from app.engine.methods.options import DEFAULT_OPTIONS, CamOptions
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.heads import Head
from app.errors import InvalidImage, InvalidInput
from app.preprocess.text import TextSpec
from app.registry.card import ModelCard
from app.registry.formats.loader import Scaling
from app.registry.formats.remote.explainer import RemoteExplainer
from app.registry.formats.remote.model import RemoteModel
from app.registry.heads import ServedHeads

DENSE_HEADS = ("segmentation", "detection")
# Compiled functions kept per model: each (layer, method) a client asks for costs a trace.
MAX_COMPILED_LAYERS = 16
# The compiled functions' key: the layers' paths, the method, its options, the output.
CamKey = tuple[tuple[tuple[str, ...], ...], str, CamOptions, str | None]
Layers = LayerSpec | list[str | int] | tuple[str | int, ...]


@dataclass
class ServedModel:
    card: ModelCard
    model: keras.Model | FrozenModel | RemoteModel
    labels: tuple[str, ...]
    scaling: Scaling | None = None
    text_spec: TextSpec | None = None
    device: str = "/CPU:0"
    ready: bool = False
    load_seconds: float = 0.0  # loading plus warming, for the metrics
    heads: ServedHeads | None = None  # None: the first output as a classifier
    _cams: OrderedDict[CamKey, GradCam] = field(default_factory=OrderedDict)
    _layers: dict[tuple[type, LayerSpec], LayerRef] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fold: FoldPlan | None = None  # planned once, shared by every compiled layer
    _forward: ModelForward | FrozenForward | None = None  # for faithfulness scores
    _decoder: FrozenDecoder | None = None  # encoded-image inputs: the graph's own decode
    _evicted_traces: int = 0  # traces of compiled functions dropped from `_cams`

    def __post_init__(self) -> None:
        if self.takes_encoded_images:
            self.scaling = _unscaled  # the graph scales its decoded image itself

    @property
    def id(self) -> str:
        return self.card.id

    @property
    def remote(self) -> RemoteModel | None:
        return self.model if isinstance(self.model, RemoteModel) else None

    @property
    def input_shape(self) -> tuple[int | None, ...]:
        if isinstance(self.model, RemoteModel):
            return self.model.input_shape
        if isinstance(self.model, FrozenModel):
            return tuple(self.model.input_spec.shape)
        return tuple(self.model.inputs[0].shape)

    @property
    def input_dtype(self) -> str:
        if isinstance(self.model, RemoteModel):
            return "float32"
        if isinstance(self.model, FrozenModel):
            return str(self.model.input_spec.dtype.name)
        return str(self.model.inputs[0].dtype)

    @property
    def input_key(self) -> str:
        """The input's name, as TF Serving's named instances and `inputs` give it."""
        if isinstance(self.model, FrozenModel):
            return self.model.input_key
        if isinstance(self.model, RemoteModel):
            return self.model.signature_key or "input"
        return str(self.model.inputs[0].name)

    @property
    def predict_input(self) -> tuple[str, str, tuple[int | None, ...]]:
        """The key, TensorFlow DataType name and shape of what `:predict`'s instances
        are (TF Serving's metadata): a graph that decodes images takes strings."""
        if self.takes_encoded_images:
            return self.input_key, "DT_STRING", (None,)
        datatype = types_pb2.DataType.Name(tf.dtypes.as_dtype(self.input_dtype).as_datatype_enum)
        return self.input_key, str(datatype), self.input_shape

    @property
    def predict_output(self) -> tuple[str, tuple[int | None, ...]]:
        """The name and shape of what `:predict` answers: the forward's one output."""
        if isinstance(self.model, RemoteModel):
            return "predictions", (None, self.model.n_classes)
        if isinstance(self.model, FrozenModel):
            return self.model.output_name, tuple(self.model.output_shape)
        output = self.model.outputs[0]
        return str(output.name), tuple(output.shape)

    @property
    def takes_encoded_images(self) -> bool:
        """A SavedModel that decodes the uploaded file's bytes in its own graph."""
        return isinstance(self.model, FrozenModel) and self.model.decoded is not None

    def graph_summary(self) -> dict[str, str | bool | None] | None:
        """For a SavedModel: its signature and the tensors the engine drives; else None."""
        model = self.model
        if not isinstance(model, FrozenModel):
            return None
        kind = "token_ids" if model.input_spec.dtype.is_integer else "image"
        return {
            "signature": self.card.saved_model.signature,
            "input": "encoded_image" if self.takes_encoded_images else kind,
            "input_tensor": model.input_name,
            "output_tensor": model.output_name,
            "logit_tensor": model.logit_name or model.output_name,
            "decoded_tensor": None if model.decoded is None else model.decoded.tensor,
            "trust_graph": self.card.trust_graph,
        }

    def decode_images(self, uploads: np.ndarray) -> np.ndarray:
        """The graph's decoded images `(B, H, W, C)` for encoded `uploads` `(B,)`."""
        assert isinstance(self.model, FrozenModel)
        with self._lock:
            if self._decoder is None:
                self._decoder = FrozenDecoder(self.model)
        try:
            with tf.device(self.device):
                return self._decoder(uploads)
        except tf.errors.InvalidArgumentError as exc:
            raise InvalidImage(
                f"the model's graph cannot decode the image: {exc.message}"
            ) from None

    @property
    def n_classes(self) -> int:
        return self.default_gradcam().n_classes

    def label(self, index: int) -> str | None:
        return self.labels[index] if 0 <= index < len(self.labels) else None

    @cached_property
    def candidate_layers(self) -> list[LayerRef]:
        if isinstance(self.model, RemoteModel):
            return []  # no layers: only the black-box methods
        if isinstance(self.model, FrozenModel):
            return self.model.candidate_layers()
        return candidate_layers(self.model, self.token_hints)

    @property
    def token_hints(self) -> TokenHints | None:
        image = self.card.image
        return None if image is None else TokenHints(image.token_grid, image.prefix_tokens)

    @property
    def default_method(self) -> str:
        """What a request naming no method gets: a remote model has no gradient."""
        return "occlusion" if isinstance(self.model, RemoteModel) else "gradcam"

    def default_gradcam(self) -> GradCam:
        return self.gradcam(None, self.default_method)

    def gradcam(
        self,
        layer: Layers,
        method: str = "gradcam",
        options: CamOptions = DEFAULT_OPTIONS,
        output: str | None = None,
    ) -> GradCam:
        """The compiled `method` for `layer` (None: the card's default, else automatic;
        a list: several layers, their maps combined) with `options`, explaining `output`
        (None: the card's default output)."""
        head = None if self.heads is None else self.heads.head(output)
        if isinstance(self.model, RemoteModel):
            return self._remote_explainer(self.model, method, head)
        first, *more = [self._resolve(self._spec(spec)) for spec in _layer_list(layer)]
        name = None if head is None else head.output
        key = ((first.path, *(ref.path for ref in more)), method, options, name)
        with self._lock:
            cam = self._cams.pop(key, None)
            if cam is None:
                self._plan_forward()
                cam = GradCam(
                    self.model,
                    first,
                    method=method,
                    name=self.id,
                    device=self.device,
                    fold=self._fold,
                    forward=self._forward,
                    options=options,
                    more_layers=more,
                    head=head,
                )
            self._cams[key] = cam  # most recently used last
            while len(self._cams) > MAX_COMPILED_LAYERS:
                _, evicted = self._cams.popitem(last=False)
                self._evicted_traces += evicted.trace_count
            return cam

    def _remote_explainer(self, model: RemoteModel, method: str, head: Head | None) -> GradCam:
        """Nothing to compile; kept per method so concurrent requests share batches."""
        key = ((), method, DEFAULT_OPTIONS, None if head is None else head.output)
        with self._lock:
            cam = self._cams.get(key)
        if cam is None:
            cam = RemoteExplainer(model, method, head)  # a gradient method raises here (422)
            with self._lock:
                self._cams[key] = cam
        return cam

    def _plan_forward(self) -> None:
        """The folding plan (Keras) and the plain forward, made once and shared."""
        if self._forward is not None:
            return
        if isinstance(self.model, FrozenModel):
            self._forward = FrozenForward(self.model, device=self.device)
            return
        self._fold = plan_folding(self.model, self.device)
        self._forward = ModelForward(self.model, device=self.device, fold=self._fold)

    def compiled(
        self,
        layer: Layers,
        method: str = "gradcam",
        options: CamOptions = DEFAULT_OPTIONS,
        output: str | None = None,
    ) -> GradCam | None:
        """The `method` for `layer` if it is resolved and compiled already, else None.

        Never blocks for long, so the event loop may call it; `gradcam` may trace.
        """
        if isinstance(self.model, RemoteModel):
            return None
        name = None if self.heads is None else self.heads.head(output).output
        with self._lock:
            refs = [self._layers.get(_layer_key(self._spec(spec))) for spec in _layer_list(layer)]
            if any(ref is None for ref in refs):
                return None
            paths = tuple(ref.path for ref in refs if ref is not None)
            return self._cams.get((paths, method, options, name))

    def labels_of(self, output: str | None) -> tuple[str, ...]:
        """The labels of `output`'s classes (None: the default output)."""
        if self.heads is None:
            return self.labels
        return self.heads.labels[self.heads.head(output).output]

    def _spec(self, layer: LayerSpec) -> LayerSpec:
        return self.card.default_layer if layer is None else layer

    def _resolve(self, spec: LayerSpec) -> LayerRef:
        """Resolving walks every layer (ms on large nets): done once per valid spec."""
        key = _layer_key(spec)
        with self._lock:
            ref = self._layers.get(key)
        if ref is None:
            # A bad spec raises and is not kept.
            model = self.model
            # Dense heads' (B, N, C) tensors are boxes or pixels, not a transformer's tokens.
            tokens = self.heads is None or self.heads.head(None).kind not in DENSE_HEADS
            ref = (
                model.resolve(spec, tokens)
                if isinstance(model, FrozenModel)
                else resolve_layer(model, spec, self.token_hints, tokens)
            )
            with self._lock:
                self._layers[key] = ref
        return ref

    @property
    def trace_count(self) -> int:
        """Every trace of this version so far, evicted functions included: it only
        grows, so a function traced again after its eviction shows as a new trace."""
        with self._lock:
            forward = 0 if self._forward is None else self._forward.trace_count
            kept = sum(cam.trace_count for cam in self._cams.values())
            return self._evicted_traces + forward + kept

    def warm_up(self) -> None:
        """One real explain on a blank input so the first request does not pay the trace.

        Warming also checks the model end to end: a failure here stops start-up.
        """
        started = time.perf_counter()
        if isinstance(self.model, RemoteModel):  # ready when the remote answers
            self.ready = self.model.refresh_ready()
            return
        cam = self.default_gradcam()
        cam.explain(self._blank_input(), score=self.card.score)
        self.load_seconds += time.perf_counter() - started
        self.ready = True

    def _blank_input(self) -> np.ndarray:
        if self.takes_encoded_images:
            return np.array([_blank_jpeg()], dtype=object)
        shape = [1, *(dim or 1 for dim in self.input_shape[1:])]
        return np.zeros(shape, dtype=self.input_dtype)


def _unscaled(pixels: np.ndarray) -> np.ndarray:
    return pixels


def _blank_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buffer, format="JPEG")
    return buffer.getvalue()


def _layer_list(layer: Layers) -> list[LayerSpec]:
    """One layer spec, or a list of them (several target layers)."""
    if not isinstance(layer, list | tuple):
        return [layer]
    if not layer:
        raise InvalidInput("layer: a list names at least one layer")
    return list(layer)


def _layer_key(spec: LayerSpec) -> tuple[type, LayerSpec]:
    """Keyed by type too: layer 1 (an index) and "1" (a name) are different layers."""
    return (type(spec), spec)
