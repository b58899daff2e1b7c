"""The op check of a SavedModel, read from `saved_model.pb` before TensorFlow loads it.

Two parts: the ops the serving signature runs (its node in the MetaGraph and every
function it calls, transitively) must be in `ALLOWED`; every other op of the file (the
save/restore and init functions `tf.saved_model.load` runs) in `ALLOWED` or
`CHECKPOINT_OPS` (`app.registry.formats.savedmodel.ops`).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from tensorflow.core.framework import attr_value_pb2, function_pb2, node_def_pb2
from tensorflow.core.protobuf import meta_graph_pb2, saved_model_pb2

from app.errors import ModelError
from app.registry.formats.savedmodel.ops import refused_op

SERVE_TAG = "serve"


def read_meta_graph(folder: Path) -> meta_graph_pb2.MetaGraphDef:
    """The MetaGraph tagged `serve` (else the only one) of `folder/saved_model.pb`."""
    saved = saved_model_pb2.SavedModel()
    try:
        saved.ParseFromString((folder / "saved_model.pb").read_bytes())
    except (OSError, DecodeError) as exc:
        raise ModelError(f"{folder}/saved_model.pb cannot be read: {exc}") from exc
    graphs = list(saved.meta_graphs)
    served = [graph for graph in graphs if SERVE_TAG in graph.meta_info_def.tags]
    if served or len(graphs) == 1:
        return (served or graphs)[0]
    raise ModelError(f"{folder}: no MetaGraph is tagged {SERVE_TAG!r}")


def check_graph_ops(meta_graph: meta_graph_pb2.MetaGraphDef, signature: str) -> None:
    """Raise a ModelError naming the first op outside the allow-list."""
    functions = {f.signature.name: f for f in meta_graph.graph_def.library.function}
    nodes = {node.name: node for node in meta_graph.graph_def.node}
    serving_nodes = _signature_nodes(meta_graph, signature, nodes)
    serving_functions = _called_functions(serving_nodes, functions)
    serving = _op_types(serving_nodes, functions)
    for name in serving_functions:
        serving |= _op_types(functions[name].node_def, functions)
    op = refused_op(serving, load_time=False)
    if op is not None:
        raise ModelError(
            f"signature {signature!r} uses op {op}, which is not on the allow-list "
            "(ops that touch files, Python or other processes are refused); set "
            "trust_graph = true in the card to load it anyway"
        )
    others = _op_types(meta_graph.graph_def.node, functions)
    for name, function in functions.items():
        if name not in serving_functions:
            others |= _op_types(function.node_def, functions)
    op = refused_op(others, load_time=True)
    if op is not None:
        raise ModelError(
            f"the SavedModel's load-time graph uses op {op}, which is not on the "
            "allow-list; set trust_graph = true in the card to load it anyway"
        )


def _op_types(nodes: Iterable[node_def_pb2.NodeDef], functions: dict[str, object]) -> set[str]:
    """The op types of `nodes`; a call of a library function by name is not an op."""
    return {node.op for node in nodes if node.op not in functions}


def _signature_nodes(
    meta_graph: meta_graph_pb2.MetaGraphDef, signature: str, nodes: dict[str, node_def_pb2.NodeDef]
) -> list[node_def_pb2.NodeDef]:
    if signature not in meta_graph.signature_def:
        known = ", ".join(sorted(meta_graph.signature_def)) or "none"
        raise ModelError(f"the SavedModel has no signature {signature!r} (signatures: {known})")
    outputs = meta_graph.signature_def[signature].outputs.values()
    stack = [tensor.name.lstrip("^").split(":")[0] for tensor in outputs]
    seen: dict[str, node_def_pb2.NodeDef] = {}
    while stack:
        name = stack.pop()
        if name in seen or name not in nodes:
            continue
        seen[name] = nodes[name]
        stack.extend(inp.lstrip("^").split(":")[0] for inp in nodes[name].input)
    return list(seen.values())


def _called_functions(
    nodes: Iterable[node_def_pb2.NodeDef], functions: dict[str, function_pb2.FunctionDef]
) -> set[str]:
    """Every function the nodes call, directly or through other functions."""
    called: set[str] = set()
    stack = [name for node in nodes for name in _function_names(node)]
    while stack:
        name = stack.pop()
        if name in called or name not in functions:
            continue
        called.add(name)
        stack.extend(n for node in functions[name].node_def for n in _function_names(node))
    return called


def _function_names(node: node_def_pb2.NodeDef) -> list[str]:
    names = [node.op]  # a function can be called as an op type of its own
    for value in node.attr.values():
        names.extend(_attr_functions(value))
    return names


def _attr_functions(value: attr_value_pb2.AttrValue) -> list[str]:
    if value.HasField("func"):
        return [value.func.name]
    if value.HasField("list"):
        return [func.name for func in value.list.func]
    return []
