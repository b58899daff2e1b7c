"""Loading a SavedModel directory as a frozen graph the engine can explain.

`saved_model.pb` is parsed and its ops checked (`app.registry.formats.savedmodel.check`) before
`tf.saved_model.load` runs anything; then the card's signature is frozen
(`convert_variables_to_constants_v2`: the weights become constants) and analysed
(`app.engine.capture.frozen.model`). The loaded object is kept alive with the frozen model: the
signature's variables belong to it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeAlias

import tensorflow as tf
from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

from app.engine.capture.frozen.model import FrozenModel, analyse_graph
from app.engine.layers.tokens import TokenHints
from app.errors import ModelError
from app.registry.card import SAVED_MODEL_FILE, ModelCard
from app.registry.formats.savedmodel.check import SERVE_TAG, check_graph_ops, read_meta_graph

ConcreteFunction: TypeAlias = Any  # a signature: tf.types.experimental.ConcreteFunction


def is_saved_model(path: Path) -> bool:
    return path.is_dir() and (path / SAVED_MODEL_FILE).is_file()


def load_saved_model(path: Path, card: ModelCard) -> FrozenModel:
    config = card.saved_model
    meta_graph = read_meta_graph(path)
    if not card.trust_graph:
        check_graph_ops(meta_graph, config.signature)
    tags = list(meta_graph.meta_info_def.tags) or [SERVE_TAG]
    loaded = tf.saved_model.load(str(path), tags=tags)
    function = loaded.signatures.get(config.signature)
    if function is None:
        known = ", ".join(sorted(loaded.signatures)) or "none"
        raise ModelError(f"the SavedModel has no signature {config.signature!r} ({known})")
    input_key = _pick_input(function, config.signature, config.input_key)
    output_key = _pick_output(function, config.signature, config.output_key or _card_output(card))
    # Loops stay functional (While + its body function): lowered v1 frames break import.
    frozen = convert_variables_to_constants_v2(function, lower_control_flow=False)
    spec = function.structured_input_signature[1][input_key]
    input_name = _placeholder(frozen, spec.name or input_key)
    # The frozen function's outputs are the signature's, flattened (keys sorted).
    keys = tf.nest.flatten({key: key for key in function.structured_outputs})
    named = {key: frozen.outputs[keys.index(key)].name for key in function.structured_outputs}
    output = function.structured_outputs[output_key]
    _check_drivable(card, config.signature, input_key, spec, output_key, output)
    graph_def = frozen.graph.as_graph_def()
    model = analyse_graph(card.id, graph_def, input_name, named[output_key], outputs=named)
    if spec.dtype == tf.string and model.decoded is None:
        raise ModelError(
            f"signature {config.signature!r} takes encoded images but no (batch, height, "
            "width, channels) image follows the decode in its graph"
        )
    model.keepalive = loaded
    model.input_key = input_key
    if card.image is not None:  # a transformer's token grid, when the card says it
        model.hints = TokenHints(card.image.token_grid, card.image.prefix_tokens)
    return model


def _describe(function: ConcreteFunction) -> str:
    inputs = function.structured_input_signature[1]
    return ", ".join(f"{key}: {spec.dtype.name}{list(spec.shape)}" for key, spec in inputs.items())


def _pick_input(function: ConcreteFunction, name: str, key: str | None) -> str:
    inputs = function.structured_input_signature[1]
    if key is None and len(inputs) == 1:
        return str(next(iter(inputs)))
    if key is None:
        raise ModelError(
            f"signature {name!r} takes several inputs ({_describe(function)}); the service "
            "feeds one: name it with input_key in [saved_model], and the others must go"
        )
    if key not in inputs:
        raise ModelError(f"signature {name!r} has no input {key!r} (inputs: {_describe(function)})")
    if len(inputs) > 1:
        others = ", ".join(sorted(k for k in inputs if k != key))
        raise ModelError(
            f"signature {name!r} needs inputs the service cannot feed: {others} "
            f"(inputs: {_describe(function)})"
        )
    return key


def _pick_output(function: ConcreteFunction, name: str, key: str | None) -> str:
    outputs = function.structured_outputs
    if not isinstance(outputs, dict):
        raise ModelError(f"signature {name!r} does not return a dict of named outputs")
    if key is None and len(outputs) == 1:
        return str(next(iter(outputs)))
    if key is None or key not in outputs:
        known = ", ".join(f"{k}: {v.dtype.name}{list(v.shape)}" for k, v in outputs.items())
        what = "several outputs" if key is None else f"no output {key!r}"
        raise ModelError(
            f"signature {name!r} has {what} ({known}); name one with output_key in [saved_model]"
        )
    return key


def _card_output(card: ModelCard) -> str | None:
    """The output the card explains by default, if it names one."""
    if card.default_output is not None:
        return card.default_output
    if card.detection is not None:
        return card.detection.scores_output
    return next(iter(card.outputs), None)


def _placeholder(frozen: ConcreteFunction, name: str) -> str:
    for tensor in frozen.inputs:
        if tensor.op.name == name:
            return str(tensor.name)
    if len(frozen.inputs) == 1:
        return str(frozen.inputs[0].name)
    raise ModelError(f"the frozen signature has no input placeholder {name!r}")


def _check_drivable(
    card: ModelCard,
    signature: str,
    key: str,
    spec: tf.TensorSpec,
    output_key: str,
    output: tf.Tensor,
) -> None:
    """Image: float (B, H, W, C) or encoded strings (B,); text: int ids (B, T)."""
    rank, dtype = spec.shape.rank, spec.dtype
    image = (dtype.is_floating and rank == 4) or (dtype == tf.string and rank == 1)
    text = dtype.is_integer and rank == 2
    fits = image if card.task == "image" else text
    wanted = (
        "a float (batch, height, width, channels) tensor or a string (batch,) tensor of "
        "encoded images"
        if card.task == "image"
        else "an integer (batch, steps) tensor of token ids"
    )
    if not fits:
        raise ModelError(
            f"signature {signature!r} input {key!r} is {dtype.name}{spec.shape}; a {card.task} "
            f"model needs {wanted}"
        )
    # Other heads' outputs are checked against their head (app.registry.heads).
    classifier = card.head == "classifier" and not card.outputs
    if (classifier and output.shape.rank != 2) or not output.dtype.is_floating:
        raise ModelError(
            f"signature {signature!r} output {output_key!r} is {output.dtype.name}"
            f"{output.shape}; the service needs float (batch, classes) scores"
        )
