"""Keras 2 `model_config` JSON -> a Keras 3 config, with an allow-list of layer classes.

Keras 2.x (and `tf.keras` up to 2.15) wrote configs Keras 3 rejects or misreads. The
model-level keys translated here (per-layer keys: `keras2_layers`; docs/model-cards.md
lists both):

- `class_name`: a dotted path (`keras.layers.Dense`) keeps its last part; `Model` ->
  `Functional`; `module` and `registered_name` are replaced by Keras 3's.
- Sequential `config` as a bare list of layers (Keras <= 2.2.2) -> `{"layers": [...]}`.
- Sequential without an `InputLayer` (Keras 2.2.x): the first layer's
  `batch_input_shape`, Embedding `input_length`, or a nested first model's input shape
  becomes an `InputLayer(batch_shape=...)`.
- Node indices (`inbound_nodes`, `output_layers`) that refer to a nested model: minus one
  (Keras 2 counted the nested model's own input-to-output node first).
- `input_layers` / `output_layers` holding one reference, `[[name, 0, 0]]` -> `[name, 0, 0]`
  (else Keras 3 makes the model return a list of one tensor, and a Sequential around it fails).
- Wrapped layers (Bidirectional / TimeDistributed `layer`, `backward_layer`) and nested
  models are translated recursively.
- `trainable` on a layer whose Keras 3 class does not take it (weightless layers such as
  SpatialDropout2D): dropped (in `keras2.py`, which asks the Keras 3 class).

Any other key is passed on as is; `keras2.py` refuses keys the Keras 3 class does not take.
"""

from __future__ import annotations

from typing import Any

from app.errors import ModelError
from app.registry.formats.keras2.layers import Config, dtype_name, translate_layer_config

MODEL_CLASSES = {"Sequential", "Functional", "Model"}  # Model: Keras 2's name for Functional
ALLOWED_LAYERS = frozenset(
    """
    InputLayer Dense Activation Dropout SpatialDropout1D SpatialDropout2D GaussianNoise
    GaussianDropout AlphaDropout Flatten Reshape Permute RepeatVector Masking
    Conv1D Conv2D Conv3D SeparableConv1D SeparableConv2D DepthwiseConv2D Conv1DTranspose
    Conv2DTranspose MaxPooling1D MaxPooling2D MaxPooling3D AveragePooling1D AveragePooling2D
    AveragePooling3D GlobalMaxPooling1D GlobalMaxPooling2D GlobalAveragePooling1D
    GlobalAveragePooling2D ZeroPadding1D ZeroPadding2D Cropping1D Cropping2D UpSampling1D
    UpSampling2D BatchNormalization LayerNormalization ReLU LeakyReLU PReLU ELU Softmax
    Embedding Add Subtract Multiply Average Maximum Minimum Concatenate Dot
    SimpleRNN LSTM GRU Bidirectional TimeDistributed Rescaling
    """.split()  # noqa: SIM905 (a word list reads better than 60 quoted names)
)


def translate_model(model_config: Config) -> Config:
    """The Keras 3 config of a whole Keras 2 model (`{"class_name", "config"}`)."""
    class_name = short_class_name(model_config)
    if class_name not in MODEL_CLASSES:
        raise ModelError(f"the file holds a {class_name!r}, not a Sequential or functional model")
    return translate_layer(model_config)


def translate_layer(layer: Config) -> Config:
    """One layer entry (class_name, config and, in a functional model, name and nodes)."""
    class_name = short_class_name(layer)
    config = layer.get("config")
    translated: Config
    if class_name == "Sequential":
        translated = {"module": "keras", "class_name": "Sequential", "registered_name": None}
        translated["config"] = translate_sequential(config)
    elif class_name in ("Functional", "Model"):
        translated = {
            "module": "keras.src.models.functional",
            "class_name": "Functional",
            "registered_name": "Functional",
        }
        translated["config"] = translate_functional(config)
    else:
        layer_config = check_allowed(class_name, config)
        translated = {"module": "keras.layers", "class_name": class_name, "registered_name": None}
        translated["config"] = translate_layer_config(class_name, dict(layer_config))
        for key in ("layer", "backward_layer"):  # wrappers: Bidirectional, TimeDistributed
            if isinstance(layer_config.get(key), dict):
                translated["config"][key] = translate_layer(layer_config[key])
    for key in ("name", "inbound_nodes"):
        if key in layer:
            translated[key] = layer[key]
    return translated


def short_class_name(layer: Config) -> str:
    name = layer.get("class_name") if isinstance(layer, dict) else None
    if not isinstance(name, str):
        raise ModelError(f"a layer entry has no class_name: {str(layer)[:120]}")
    return name.rsplit(".", 1)[-1]


def check_allowed(class_name: str, config: object) -> Config:
    if not isinstance(config, dict):
        raise ModelError(f"layer of class {class_name!r} has no config")
    if class_name not in ALLOWED_LAYERS:
        name = config.get("name", "?")
        raise ModelError(
            f"layer {name!r} has class {class_name!r}, which is not allowed "
            "(Lambda and custom layers run arbitrary code; see docs/model-cards.md)"
        )
    return config


def translate_sequential(config: object) -> Config:
    if isinstance(config, list):  # Keras <= 2.2.2 wrote the bare list of layers
        config = {"layers": config}
    if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
        raise ModelError("a Sequential config without a list of layers")
    layers = config["layers"]
    if not layers:
        raise ModelError("a Sequential model without layers")
    translated = [translate_layer(layer) for layer in layers]
    if short_class_name(layers[0]) != "InputLayer":
        translated.insert(0, input_layer_for(layers[0]))
    out = {key: config[key] for key in ("name", "trainable") if key in config}
    return {**out, "layers": translated}


def input_layer_for(first: Config) -> Config:
    """Keras 2.2.x kept a Sequential's input shape on its first layer."""
    config = first.get("config") or {}
    shape = first_layer_shape(first)
    if shape is None:
        raise ModelError(f"the Sequential model's first layer {config.get('name')!r} has no shape")
    dtype = dtype_name(config.get("dtype", "float32"))
    name = f"{config.get('name', 'model')}_input"
    input_config = {"batch_shape": list(shape), "dtype": dtype, "name": name}
    return {"module": "keras.layers", "class_name": "InputLayer", "config": input_config}


def first_layer_shape(layer: Config) -> list[Any] | None:
    """The batch input shape a layer was given, looking inside a nested model's input."""
    class_name, config = short_class_name(layer), layer.get("config") or {}
    if class_name == "Sequential":
        layers = config if isinstance(config, list) else config.get("layers") or []
        return first_layer_shape(layers[0]) if layers else None
    if class_name in ("Functional", "Model"):
        name = (config.get("input_layers") or [[None]])[0][0]
        inputs = [entry for entry in config.get("layers", []) if entry.get("name") == name]
        return first_layer_shape(inputs[0]) if inputs else None
    shape = config.get("batch_input_shape")
    if shape is None and class_name == "Embedding" and "input_length" in config:
        shape = [None, config["input_length"]]
    return list(shape) if isinstance(shape, list) else None


def translate_functional(config: object) -> Config:
    wanted = ("layers", "input_layers", "output_layers")
    if not isinstance(config, dict) or not all(isinstance(config.get(k), list) for k in wanted):
        raise ModelError(f"a functional model config without {', '.join(wanted)}")
    out = {k: config[k] for k in ("name", "trainable", *wanted) if k in config}
    out["layers"] = [translate_layer(layer) for layer in config["layers"]]
    nested = {layer["name"] for layer in out["layers"] if layer["class_name"] in MODEL_CLASSES}
    for layer in out["layers"]:
        layer["inbound_nodes"] = [shift_nodes(node, nested) for node in layer["inbound_nodes"]]
    out["output_layers"] = single_or_list(shift_nodes(out["output_layers"], nested))
    out["input_layers"] = single_or_list(out["input_layers"])
    return out


def single_or_list(refs: list[Any]) -> list[Any]:
    """Keras 2 listed one input or output as `[[name, 0, 0]]` and the model returned a
    tensor; Keras 3 reads that as a list of one (a model returning a list), so one
    reference is written flat, `[name, 0, 0]`, as Keras 3 writes it."""
    if len(refs) == 1 and isinstance(refs[0], list) and isinstance(refs[0][0], str):
        return list(refs[0])
    return refs


def shift_nodes(refs: list[Any], nested: set[str]) -> list[Any]:
    """Keras 2 counted a nested model's own input-to-output node as node 0 (its config
    refers to the first call as node 1); Keras 3 has no such node."""
    if refs and isinstance(refs[0], str):  # a single [layer, node, tensor(, kwargs)]
        if refs[0] in nested and refs[1] > 0:
            return [refs[0], refs[1] - 1, *refs[2:]]
        return refs
    return [shift_nodes(ref, nested) for ref in refs]
