"""The layers of a frozen graph: its ops grouped under the Keras layer names they carry.

A SavedModel's frozen serving graph has op names such as
`StatefulPartitionedCall/functional_1/c2_1/Relu` (Keras 3 `model.export`) or
`StatefulPartitionedCall/sequential/c/Relu` (tf-keras): the function-call prefixes, then
the model's scope, the layer's scope and the op. An op with a model and a layer scope is
listed under the layer's name; any other op (plain `tf.Module` code) under its own name
without the call prefixes. Keras 3 exports name every layer scope `<layer>_1` (`_2` on
a clash): when every layer scope of the graph ends in `_<digits>`, that suffix is dropped.
A layer's output is the output of its last op in graph order.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import tensorflow as tf

_CALL_PREFIX = re.compile(r"^(Stateful)?PartitionedCall(_\d+)?$")
_EXPORT_SUFFIX = re.compile(r"^(.+)_\d+$")
_INLINED = "Func/"  # the inputs and outputs of an inlined function call


@dataclass(frozen=True)
class FrozenLayer:
    """One layer (or op) of a frozen graph: the tensor it outputs and the op types in it."""

    name: str
    tensor: str  # "<op>:0" in the frozen graph
    output_shape: tuple[int | None, ...]
    dtype: tf.DType
    op_types: frozenset[str]
    position: int  # of the output op in graph order


def short_op_name(op_name: str) -> str:
    """The op name without its function-call prefixes."""
    parts = op_name.split("/")
    while len(parts) > 1 and _CALL_PREFIX.match(parts[0]):
        parts = parts[1:]
    return "/".join(parts)


def group_layers(ops: Iterable[tf.Operation]) -> list[FrozenLayer]:
    """The layers of `ops` (in graph order), each output a single tensor of known rank."""
    ordered = [op for op in ops if _is_listed(op)]
    keys = [layer_key(short_op_name(op.name)) for op in ordered]
    strip = _strip_export_suffix(key for key, is_keras in keys if is_keras)
    groups: dict[str, list[tuple[int, tf.Operation]]] = {}
    for position, (op, (key, is_keras)) in enumerate(zip(ordered, keys, strict=True)):
        name = _EXPORT_SUFFIX.sub(r"\1", key) if is_keras and strip else key
        groups.setdefault(name, []).append((position, op))
    layers = [_layer(name, members) for name, members in groups.items()]
    return sorted(layers, key=lambda layer: layer.position)


def _is_listed(op: tf.Operation) -> bool:
    """An op with an output of known rank; not an identity added by function inlining."""
    inlined = short_op_name(op.name).startswith(_INLINED)
    return bool(op.outputs) and op.outputs[0].shape.rank is not None and not inlined


def layer_key(short_name: str) -> tuple[str, bool]:
    """(the layer's scope, True) for `model/layer/op...`; else (the op name, False)."""
    parts = short_name.split("/")
    if len(parts) >= 3:
        return parts[1], True
    return short_name, False


def _strip_export_suffix(keras_keys: Iterable[str]) -> bool:
    keys = list(keras_keys)
    return bool(keys) and all(_EXPORT_SUFFIX.match(key) for key in keys)


def _layer(name: str, members: list[tuple[int, tf.Operation]]) -> FrozenLayer:
    position, last = members[-1]
    output = last.outputs[0]
    return FrozenLayer(
        name=name,
        tensor=output.name,
        output_shape=tuple(output.shape.as_list()),
        dtype=output.dtype,
        op_types=frozenset(op.type for _, op in members),
        position=position,
    )


def op_layers(ops: Iterable[tf.Operation]) -> list[FrozenLayer]:
    """Every op (with one output of known rank) as a layer of its own, by short op name."""
    return [
        FrozenLayer(
            short_op_name(op.name),
            op.outputs[0].name,
            tuple(op.outputs[0].shape.as_list()),
            op.outputs[0].dtype,
            frozenset({op.type}),
            position,
        )
        for position, op in enumerate(ops)
        if _is_listed(op)
    ]
