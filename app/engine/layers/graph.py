"""Replay a model's forward pass, capturing the target layer's output on the way.

Building a derived `keras.Model(inputs, inner_layer.output)` fails with "Graph
disconnected" when the layer sits inside a nested model. Instead the layers are called
again, in graph order, on the real tensors of the compiled function: a nested model
holding the target is replayed recursively, every other layer is called as is. Nothing
is added to the served model (calls on concrete tensors create no graph nodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import keras
import tensorflow as tf

OnTarget = Callable[[tf.Tensor], tf.Tensor]
OnOutputLayer = Callable[[keras.layers.Layer, tf.Tensor], None]


class LayerSubstitution(Protocol):
    """Computes some layers differently in a replay (`app.engine.capture.keras.fold`'s
    `FoldPlan`); declared here so that layer lookup needs nothing from the capture room."""

    def call(
        self, layer: keras.layers.Layer, call_as_is: Callable[[], Any], inputs: Any
    ) -> Any: ...


def output_layer(model: keras.Model) -> keras.layers.Layer:
    """The layer that produces the model's first output."""
    if isinstance(model, keras.Sequential):
        return model.layers[-1]
    return model.outputs[0]._keras_history.operation


def output_layers(model: keras.Model) -> dict[str, keras.layers.Layer]:
    """Each output's name and the layer producing it, in the model's output order.

    The name is the key of a dict output, else the output layer's name."""
    if isinstance(model, keras.Sequential):
        return {model.layers[-1].name: model.layers[-1]}
    struct = getattr(model, "_outputs_struct", None)
    if isinstance(struct, dict):
        return {str(key): tensor._keras_history.operation for key, tensor in struct.items()}
    return {
        tensor._keras_history.operation.name: tensor._keras_history.operation
        for tensor in model.outputs
    }


def output_shapes(model: keras.Model) -> dict[str, tuple[int | None, ...]]:
    """Each output's name (as `output_layers`) and static shape, batch first."""
    struct = getattr(model, "_outputs_struct", None)
    tensors = list(struct.values()) if isinstance(struct, dict) else list(model.outputs)
    return {
        name: tuple(tensor.shape)
        for name, tensor in zip(output_layers(model), tensors, strict=True)
    }


def named_outputs(model: keras.Model, result: Any) -> dict[str, tf.Tensor]:
    """The model's result (a tensor, a list or a dict) as {output name: tensor}."""
    if isinstance(result, dict):
        return {str(key): value for key, value in result.items()}
    names = list(output_layers(model))
    values = list(result) if isinstance(result, list | tuple) else [result]
    return dict(zip(names, values, strict=True))


def replay(
    model: keras.Model,
    inputs: tf.Tensor,
    target: tuple[str, ...],
    on_target: OnTarget,
    on_output_layer: OnOutputLayer | None = None,
    fold: LayerSubstitution | None = None,
) -> Any:
    """Run `model` on `inputs`; `on_target` sees (and may replace) the target's output.

    `target` is the path of layer names from `model` down to the target layer.
    `on_output_layer(layer, layer_input)` is called for each layer making an output.
    `fold` computes the layers it folded in their place (see `app.engine.capture.keras.fold`).
    """
    last = {id(layer) for layer in output_layers(model).values()} if on_output_layer else set()

    def compute(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        if fold is None:
            return layer(*args, **kwargs)
        return fold.call(layer, lambda: layer(*args, **kwargs), args[0])

    def call(layer: keras.layers.Layer, *args: Any, **kwargs: Any) -> Any:
        if id(layer) in last and on_output_layer is not None:
            on_output_layer(layer, args[0])
        if layer.name != target[0]:
            return compute(layer, *args, **kwargs)
        if len(target) > 1:
            return replay(layer, args[0], target[1:], on_target, fold=fold)
        outputs = compute(layer, *args, **kwargs)
        if isinstance(outputs, list | tuple):
            return type(outputs)([on_target(outputs[0]), *outputs[1:]])
        return on_target(outputs)

    return run_layers(model, inputs, call)


def run_layers(model: keras.Model, inputs: tf.Tensor, call: Callable[..., Any]) -> Any:
    """Run `model` on `inputs` with `call(layer, *args, **kwargs)` computing each layer."""
    if isinstance(model, keras.Sequential):
        x = inputs
        for layer in model.layers:
            x = call(layer, x)
        return x
    # Keras' own graph walk (used by Functional.call) with our per-layer call.
    return model._run_through_graph(inputs, operation_fn=lambda op: op, call_fn=call)


def layer_at(model: keras.Model, path: tuple[str, ...]) -> keras.layers.Layer:
    """The layer at `path`, a tuple of layer names from `model` down."""
    layer: keras.layers.Layer = model
    for name in path:
        layer = layer.get_layer(name)
    return layer


def first_output(outputs: Any) -> tf.Tensor:
    """Only the first output of a multi-output model is explained (as in ELI5)."""
    while isinstance(outputs, list | tuple | dict):
        outputs = next(iter(outputs.values())) if isinstance(outputs, dict) else outputs[0]
    return outputs


def is_cut(model: keras.Model, path: tuple[str, ...]) -> bool:
    """Whether every path from the input to the output goes through the layer at `path`,
    at every nesting level (no skip connection around it)."""
    layer = model.get_layer(path[0])
    if not isinstance(model, keras.Sequential) and not _cuts(model, layer):
        return False
    return len(path) == 1 or is_cut(layer, path[1:])


def _cuts(model: keras.Model, layer: keras.layers.Layer) -> bool:
    nodes = [node for depth in model._nodes_by_depth.values() for node in depth]
    own = [node for node in nodes if node.operation is layer]
    if len(own) != 1:  # a shared layer: its other calls bypass it
        return False
    ancestors: set[int] = set()
    stack = list(own[0].parent_nodes)
    while stack:
        node = stack.pop()
        if id(node) not in ancestors:
            ancestors.add(id(node))
            stack.extend(node.parent_nodes)
    return not any(
        id(node) not in ancestors
        and node is not own[0]
        and any(id(parent) in ancestors for parent in node.parent_nodes)
        for node in nodes
    )


def first_layer_of_type(
    model: keras.Model, kind: type[keras.layers.Layer]
) -> tuple[str, ...] | None:
    """The path of the first layer of type `kind` in `model` or its nested models."""
    for layer in model.layers:
        if isinstance(layer, kind):
            return (layer.name,)
        if isinstance(layer, keras.Model):
            inner = first_layer_of_type(layer, kind)
            if inner is not None:
                return (layer.name, *inner)
    return None
