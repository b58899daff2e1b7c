"""A SavedModel signature frozen to a GraphDef, and what the engine needs to know of it.

`analyse_graph` imports the frozen graph once into a scratch `tf.Graph` to read static
shapes and walk it: the ops between the input and the output are grouped into layers
(`app.engine.capture.frozen.layers`); candidates, the default layer and name lookup follow the
same rules as for Keras models (`app.engine.layers`). The compiled functions import the
GraphDef again inside their own `tf.function` (`app.engine.capture.frozen.capture`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import tensorflow as tf

from app.engine.capture.frozen.fold import fold_batchnorms
from app.engine.capture.frozen.layers import FrozenLayer, group_layers, op_layers, short_op_name
from app.engine.compiled import compile_step
from app.engine.layers.refs import IMAGE_RANK, TEXT_RANK, LayerRef, LayerSpec
from app.engine.layers.tokens import NoTokenGrid, TokenGrid, TokenHints, token_grid
from app.errors import InvalidInput

# ELI5's text rule mapped onto op types: Conv1D runs as Conv2D; recurrent layers as loops.
SEQUENCE_OPS = frozenset({"Conv2D", "While", "StatelessWhile", "CudnnRNNV3", "BlockLSTMV2"})
POOLING_1D_OPS = frozenset({"MaxPool", "MaxPoolV2", "AvgPool"})
EMBEDDING_OPS = frozenset({"GatherV2", "ResourceGather"})
SOFTMAX_OPS = frozenset({"Softmax", "Sigmoid"})

T = TypeVar("T")


@dataclass
class FrozenModel:
    name: str
    graph_def: tf.compat.v1.GraphDef
    input_name: str  # "<placeholder>:0"
    input_spec: tf.TensorSpec  # batch dimension None
    output_name: str
    logit_name: str | None  # the input of a final Softmax/Sigmoid; None: the output
    decoded: FrozenLayer | None  # string inputs: the first image tensor after the decode
    layers: list[FrozenLayer]  # between the input (or the decode) and the output
    mask: FrozenLayer | None  # Score-CAM's mask point for a non-float input
    output_shape: tuple[int | None, ...]
    consumers: dict[str, list[str]] = field(repr=False)  # op name -> ops reading its outputs
    keepalive: object = field(default=None, repr=False)  # owns the signature's variables
    input_key: str = ""  # the signature's name for the input (TF Serving's `inputs` key)
    hints: TokenHints | None = None  # the card's token_grid / prefix_tokens, if any
    # Every output by the signature's key: its tensor, and its logit tensor (the input of
    # a final Softmax/Sigmoid, else the output's own); `output_name` is one of them.
    outputs: dict[str, str] = field(default_factory=dict)
    logit_names: dict[str, str] = field(default_factory=dict)
    output_shapes: dict[str, tuple[int | None, ...]] = field(default_factory=dict)
    _tensors: dict[str, FrozenLayer] = field(default_factory=dict, repr=False)
    _folded: dict[frozenset[str], tf.compat.v1.GraphDef] = field(default_factory=dict, repr=False)

    @property
    def n_classes(self) -> int:
        return int(self.output_shape[-1] or 0)

    def is_cut(self, path: tuple[str, ...]) -> bool:
        """Whether every path from the input to the output goes through `path`'s op."""
        cut = self.tensor_of(path).split(":")[0]
        source, sink = self.input_name.split(":")[0], self.output_name.split(":")[0]
        reached = _closure([source], lambda op: [c for c in self.consumers.get(op, []) if c != cut])
        return sink not in reached

    @property
    def required_rank(self) -> int:
        return TEXT_RANK if self.input_spec.dtype.is_integer else IMAGE_RANK

    def candidate_layers(self) -> list[LayerRef]:
        return [self._ref(i) for i, layer in enumerate(self.layers) if self._is_candidate(layer)]

    @property
    def image_size(self) -> tuple[int | None, int | None]:
        """(H, W) of the image the layers see: the input's, or the decoded image's."""
        shape = self.decoded.output_shape if self.decoded else tuple(self.input_spec.shape)
        return shape[1], shape[2]

    def grid_of(self, layer: FrozenLayer) -> TokenGrid:
        """A transformer's `(B, tokens, C)` tensor in an image model as a patch grid, as
        for Keras models (`app.engine.layers.tokens`); NoTokenGrid when it fits none."""
        shape = layer.output_shape
        if self.required_rank != IMAGE_RANK or len(shape) != TEXT_RANK:
            raise NoTokenGrid(f"its output shape {shape} is not (batch, tokens, channels)")
        return token_grid(shape[1], self.image_size, self.hints)

    def _grid_or_none(self, layer: FrozenLayer) -> TokenGrid | None:
        try:
            return self.grid_of(layer)
        except NoTokenGrid:
            return None

    def graph_for(self, keep: frozenset[str]) -> tf.compat.v1.GraphDef:
        """The graph with its BatchNormalizations folded, but every `keep` tensor computed."""
        keep = keep | {self.output_name, self.logit_name or self.output_name}
        keep = keep | set(self.outputs.values()) | set(self.logit_names.values())
        graph = self._folded.get(keep)
        if graph is None:
            graph = self._folded[keep] = fold_batchnorms(self.graph_def, keep)
        return graph

    def tensor_of(self, path: tuple[str, ...]) -> str:
        return self._tensors[path[0]].tensor

    def resolve(self, spec: LayerSpec, tokens: bool = True) -> LayerRef:
        """`spec`: a layer name, an op name, an index into the layers, or None (automatic;
        `tokens=False`: never a token layer, as for Keras models)."""
        if spec is None:
            return self.auto_layer(tokens)
        if isinstance(spec, bool) or not isinstance(spec, int | str):
            raise InvalidInput(f"layer must be a name or an integer index, not {spec!r}")
        ref = self._by_index(spec) if isinstance(spec, int) else self._by_name(spec)
        if self.required_rank == IMAGE_RANK and len(ref.output_shape) == TEXT_RANK:
            try:
                self.grid_of(self._tensors[ref.path[0]])
            except NoTokenGrid as exc:
                raise InvalidInput(
                    f"Can not perform Grad-CAM on token layer '{ref.name}': its output shape "
                    f"{ref.output_shape} fits no token grid ({exc})"
                ) from None
            return ref
        if len(ref.output_shape) != self.required_rank:
            raise InvalidInput(
                f"Can not perform Grad-CAM on layer '{ref.name}': its output shape "
                f"{ref.output_shape} has no spatial axes (need rank {self.required_rank})"
            )
        return ref

    def auto_layer(self, tokens: bool = True) -> LayerRef:
        """Images: the last candidate. Text: ELI5's rule on op types (sequence, pooling,
        embedding)."""
        candidates = [i for i, layer in enumerate(self.layers) if self._is_candidate(layer)]
        rules = [SEQUENCE_OPS, POOLING_1D_OPS, EMBEDDING_OPS]
        if self.required_rank == IMAGE_RANK:
            rules = [frozenset()]
            found = self._last_token_layer_with_patch_gradient(candidates) if tokens else None
            if found is not None:
                return found
            candidates = [i for i in candidates if len(self.layers[i].output_shape) == 4]
        for rule in rules:
            for index in reversed(candidates):
                if not rule or rule & self.layers[index].op_types:
                    return self._ref(index)
        raise InvalidInput("Could not find a suitable target layer automatically; pass `layer`")

    def _last_token_layer_with_patch_gradient(self, candidates: list[int]) -> LayerRef | None:
        """The default of a transformer, as for Keras models (`app.engine.layers.probe`):
        of the token layers after the last `(B, H, W, C)` candidate, the last whose patch
        tokens get gradient from the output (the last block's output feeds only the
        class token to the head)."""
        tail: list[int] = []
        for index in reversed(candidates):
            if len(self.layers[index].output_shape) == IMAGE_RANK:
                break
            tail.insert(0, index)
        probe = self._probe_input()
        if not tail or probe is None:
            return None
        for index in reversed(tail):
            if patch_gradient(self, self.layers[index], probe) > 0:
                return self._ref(index)
        return None

    def _probe_input(self) -> tf.Tensor | None:
        """A seeded random input the graph takes (an encoded JPEG for a decoding graph)."""
        rng = np.random.default_rng(0)
        height, width = self.image_size
        if self.decoded is not None:
            pixels = rng.integers(0, 256, (height or 64, width or 64, 3), dtype=np.uint8)
            return tf.expand_dims(tf.io.encode_jpeg(pixels), 0)
        if not self.input_spec.dtype.is_floating or None in self.input_spec.shape[1:]:
            return None
        shape = [1, *self.input_spec.shape[1:]]
        return tf.constant(rng.uniform(size=shape), self.input_spec.dtype)

    def _is_candidate(self, layer: FrozenLayer) -> bool:
        if not layer.dtype.is_floating:
            return False
        rank = len(layer.output_shape)
        return rank == self.required_rank or self._grid_or_none(layer) is not None

    def _ref(self, index: int) -> LayerRef:
        return self._ref_of(self.layers[index], index)

    def _ref_of(self, layer: FrozenLayer, index: int | None) -> LayerRef:
        grid = self._grid_or_none(layer) if len(layer.output_shape) == TEXT_RANK else None
        return LayerRef((layer.name,), layer.output_shape, index, grid)

    def _by_index(self, index: int) -> LayerRef:
        count = len(self.layers)
        if not -count <= index < count:
            raise InvalidInput(f"layer index {index} is out of range [{-count}, {count})")
        return self._ref(index % count)

    def _by_name(self, name: str) -> LayerRef:
        layer = self._tensors.get(name) or self._tensors.get(short_op_name(name))
        if layer is None:
            raise InvalidInput(
                f"layer '{name}' not found; GET /v1/models/{{id}} lists the candidate layers"
            )
        index = self.layers.index(layer) if layer in self.layers else None
        return self._ref_of(layer, index)


def patch_gradient(model: FrozenModel, layer: FrozenLayer, probe: tf.Tensor) -> float:
    """max |d(mix . output) / d(patch tokens of `layer`)| on `probe`; 0 when unconnected."""
    grid = model.grid_of(layer)
    mix = np.random.default_rng(1).uniform(0.5, 1.5, size=model.n_classes).astype(np.float32)

    def step(inputs: tf.Tensor) -> tf.Tensor:
        tokens, outputs = tf.graph_util.import_graph_def(
            model.graph_def,
            input_map={model.input_name: inputs},
            return_elements=[layer.tensor, model.output_name],
            name="probe",
        )
        score = tf.reduce_sum(tf.cast(outputs, tf.float32) * mix)
        (gradient,) = tf.gradients(score, tokens)
        if gradient is None:
            return tf.zeros([])
        return tf.reduce_max(tf.abs(tf.cast(gradient[:, grid.prefix :, :], tf.float32)))

    return float(compile_step(step, [tf.TensorSpec.from_tensor(probe)])(probe))


def analyse_graph(
    name: str,
    graph_def: tf.compat.v1.GraphDef,
    input_name: str,
    output_name: str,
    outputs: dict[str, str] | None = None,
) -> FrozenModel:
    """`outputs`: every output's key and tensor name (default: the one output as "output")."""
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    source = graph.get_tensor_by_name(input_name)
    output = graph.get_tensor_by_name(output_name)
    downstream = _closure([source.op], lambda op: [c for t in op.outputs for c in t.consumers()])
    upstream = _closure([output.op], lambda op: [t.op for t in op.inputs])
    path_ops = [op for op in graph.get_operations() if op in downstream and op in upstream]
    path = [op for op in path_ops if op is not source.op]
    decoded = None
    if source.dtype == tf.string:
        decoded = _first(path, IMAGE_RANK, (tf.float32, tf.float16, tf.uint8))
        if decoded is not None:  # the map is taken after the decode
            path = path[path.index(decoded.op) + 1 :]
    layers = group_layers(path)
    tensors = {layer.name: layer for layer in layers}
    for op_layer in op_layers(path):
        tensors.setdefault(op_layer.name, op_layer)
    mask = None
    if not source.dtype.is_floating:
        first_float = _first(path, None, (tf.float32, tf.float16))
        mask = None if first_float is None else tensors[short_op_name(first_float.op.name)]
    model = FrozenModel(
        name=name,
        graph_def=graph_def,
        input_name=input_name,
        input_spec=tf.TensorSpec([None, *source.shape[1:]], source.dtype, name="inputs"),
        output_name=output_name,
        logit_name=_logit(output),
        decoded=None if decoded is None else op_layers([decoded.op])[0],
        layers=layers,
        mask=mask,
        output_shape=tuple(output.shape.as_list()),
        consumers={op.name: [c.name for t in op.outputs for c in t.consumers()] for op in path_ops},
        _tensors=tensors,
    )
    named = {key: graph.get_tensor_by_name(tensor) for key, tensor in (outputs or {}).items()}
    named = named or {"output": output}
    model.outputs = {key: tensor.name for key, tensor in named.items()}
    model.logit_names = {key: _logit(tensor) or tensor.name for key, tensor in named.items()}
    model.output_shapes = {key: tuple(tensor.shape.as_list()) for key, tensor in named.items()}
    return model


def _closure(start: list[T], step: Callable[[T], list[T]]) -> set[T]:
    seen, stack = set(start), list(start)
    while stack:
        for nxt in step(stack.pop()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _first(
    ops: list[tf.Operation], rank: int | None, dtypes: tuple[tf.DType, ...]
) -> tf.Tensor | None:
    for op in ops:
        if op.outputs and op.outputs[0].dtype in dtypes:
            shape = op.outputs[0].shape
            if shape.rank is not None and (
                shape.rank == rank or (rank is None and shape.rank >= 3)
            ):
                return op.outputs[0]
    return None


def _logit(output: tf.Tensor) -> str | None:
    op = output.op
    while op.type == "Identity":
        op = op.inputs[0].op
    return op.inputs[0].name if op.type in SOFTMAX_OPS else None
