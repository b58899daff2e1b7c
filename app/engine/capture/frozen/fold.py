"""BatchNormalization folded into the convolution before it, in a frozen GraphDef.

A frozen Keras BatchNormalization is `x * s + t` with `s` and `t` computed from constants;
Grappler folds `s` and `t` but not the multiply into the convolution, so EfficientNet-Lite0's
frozen graph ran 1.33x slower than the folded Keras replay at batch 8
(`python -m bench.savedmodel_speed`).
This is `app.engine.capture.keras.fold` for frozen graphs: the chain `Conv2D |
DepthwiseConv2dNative`
(constant filter, NHWC) [-> `BiasAdd` (constant)] -> `Mul` (constant) -> `Add`/`AddV2`
(constant) becomes the convolution with `filter * s` plus one `BiasAdd` of `bias * s + t`,
under the last op's name, so every later op and layer name is unchanged. A chain stays
as it is when one of its intermediate tensors is used elsewhere or is in `keep` (the
explained layer's own output must be computed).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import attr_value_pb2

CONVOLUTIONS = ("Conv2D", "DepthwiseConv2dNative")


@dataclass(frozen=True)
class Chain:
    conv: tf.Operation
    bias: tf.Tensor | None
    scale: tf.Tensor
    shift: tf.Tensor
    last: tf.Operation  # the Add whose name the folded BiasAdd takes


def fold_batchnorms(
    graph_def: tf.compat.v1.GraphDef, keep: frozenset[str]
) -> tf.compat.v1.GraphDef:
    """A copy of `graph_def` with every foldable chain folded; `keep`: tensor names."""
    graph = tf.Graph()
    with graph.as_default():
        tf.graph_util.import_graph_def(graph_def, name="")
    constant = _constant_ops(graph)
    chains = [
        chain
        for op in graph.get_operations()
        if op.type in CONVOLUTIONS and (chain := _chain(op, constant, keep)) is not None
    ]
    if not chains:
        return graph_def
    fetches = [
        [c.conv.inputs[1], c.scale, c.shift, *([c.bias] if c.bias is not None else [])]
        for c in chains
    ]
    with tf.compat.v1.Session(graph=graph) as session:
        values = session.run(fetches)
    folded = tf.compat.v1.GraphDef()
    folded.CopyFrom(graph_def)
    nodes = {node.name: node for node in folded.node}
    for chain, (kernel, scale, shift, *bias) in zip(chains, values, strict=True):
        _rewrite(folded, nodes, chain, kernel, scale, shift, bias[0] if bias else None)
    return folded


def _constant_ops(graph: tf.Graph) -> set[tf.Operation]:
    """Ops computed from constants alone (graph order is topological after an import)."""
    constant: set[tf.Operation] = set()
    for op in graph.get_operations():
        if op.type == "Const" or (
            op.inputs
            and op.type not in ("Placeholder",)
            and not op.control_inputs
            and all(t.op in constant for t in op.inputs)
            and not op.op_def.is_stateful
        ):
            constant.add(op)
    return constant


def _only_consumer(tensor: tf.Tensor, keep: frozenset[str]) -> tf.Operation | None:
    consumers = tensor.consumers()
    if len(consumers) != 1 or tensor.name in keep:
        return None
    return consumers[0]


def _other(op: tf.Operation, tensor: tf.Tensor, constant: set[tf.Operation]) -> tf.Tensor | None:
    """The other input of a binary `op` fed by `tensor`, if it is a constant."""
    inputs = list(op.inputs)
    if len(inputs) != 2 or tensor not in inputs:
        return None
    other = inputs[1] if inputs[0] is tensor else inputs[0]
    return other if other.op in constant else None


def _chain(conv: tf.Operation, constant: set[tf.Operation], keep: frozenset[str]) -> Chain | None:
    if conv.inputs[1].op not in constant or conv.get_attr("data_format") != b"NHWC":
        return None
    current, bias = conv.outputs[0], None
    step = _only_consumer(current, keep)
    if step is not None and step.type == "BiasAdd" and step.inputs[0] is current:
        if step.inputs[1].op not in constant:
            return None
        bias, current = step.inputs[1], step.outputs[0]
        step = _only_consumer(current, keep)
    if step is None or step.type != "Mul" or (scale := _other(step, current, constant)) is None:
        return None
    if not _per_channel(scale, current):
        return None
    current = step.outputs[0]
    last = _only_consumer(current, keep)
    if (
        last is None
        or last.type not in ("Add", "AddV2")
        or (shift := _other(last, current, constant)) is None
    ):
        return None
    if not _per_channel(shift, current):
        return None
    return Chain(conv, bias, scale, shift, last)


def _per_channel(values: tf.Tensor, tensor: tf.Tensor) -> bool:
    """One value per channel (or one for all), applied along the last axis only."""
    channels = tensor.shape[-1]
    shape = values.shape
    if shape.rank is None or shape.num_elements() not in (1, channels):
        return False
    return shape.rank == 0 or all(dim == 1 for dim in shape.as_list()[:-1])


def _rewrite(
    graph_def: tf.compat.v1.GraphDef,
    nodes: dict[str, tf.compat.v1.NodeDef],
    chain: Chain,
    kernel: np.ndarray,
    scale: np.ndarray,
    shift: np.ndarray,
    bias: np.ndarray | None,
) -> None:
    channels = kernel.shape[-1] * (kernel.shape[-2] if chain.conv.type != "Conv2D" else 1)
    scale = np.broadcast_to(np.asarray(scale, np.float64).reshape(-1), (channels,))
    shift = np.broadcast_to(np.asarray(shift, np.float64).reshape(-1), (channels,))
    if chain.conv.type == "Conv2D":
        new_kernel = kernel.astype(np.float64) * scale
    else:  # (..., in, multiplier): output channel = in * multiplier + m
        new_kernel = kernel.astype(np.float64) * scale.reshape(kernel.shape[-2:])
    start = np.zeros(channels) if bias is None else np.asarray(bias, np.float64).reshape(-1)
    new_bias = start * scale + shift
    name = chain.last.name
    _add_const(graph_def, f"{name}/folded_kernel", new_kernel.astype(np.float32))
    _add_const(graph_def, f"{name}/folded_bias", new_bias.astype(np.float32))
    conv = nodes[chain.conv.name]
    conv.input[1] = f"{name}/folded_kernel"
    last = nodes[name]
    controls = [inp for inp in last.input if inp.startswith("^")]
    last.op = "BiasAdd"
    del last.input[:]
    last.input.extend([chain.conv.name, f"{name}/folded_bias", *controls])
    dtype = last.attr["T"].type
    last.attr.clear()
    last.attr["T"].type = dtype
    last.attr["data_format"].CopyFrom(attr_value_pb2.AttrValue(s=b"NHWC"))


def _add_const(graph_def: tf.compat.v1.GraphDef, name: str, value: np.ndarray) -> None:
    node = graph_def.node.add()
    node.name, node.op = name, "Const"
    node.attr["dtype"].type = tf.float32.as_datatype_enum
    node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
