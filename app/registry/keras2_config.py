"""Keras 2 `model_config` JSON -> a Keras 3 config, with an allow-list of layer classes.

Keras 2.x (and `tf.keras` up to 2.15) wrote configs Keras 3 rejects or misreads. Every
Keras 2 key translated here (the list docs/model-cards.md repeats):

- `class_name`: a dotted path (`keras.layers.Dense`) keeps its last part; `Model` ->
  `Functional`; `module` and `registered_name` are replaced by Keras 3's.
- Sequential `config` as a bare list of layers (Keras <= 2.2.2) -> `{"layers": [...]}`.
- Sequential without an `InputLayer` (Keras 2.2.x): the first layer's
  `batch_input_shape`, or Embedding `input_length`, becomes an `InputLayer(batch_shape=...)`.
- `batch_input_shape`: on `InputLayer` -> `batch_shape`; on any other layer dropped (its
  shape is the InputLayer's).
- Embedding `input_length`: dropped (Keras 3 takes the length from the input).
- `dtype` as a policy dict (`{"class_name": "Policy", "config": {"name": ...}}`) -> its name.
- `*_initializer`, `*_regularizer`, `*_constraint`, `activity_regularizer`: dropped; the
  weights come from the file and regularizers only matter in training.
- BatchNormalization `axis` as a one-element list -> an int; `fused`, `renorm`,
  `renorm_clipping`, `renorm_momentum`, `virtual_batch_size`, `adjustment` dropped at their
  inference-neutral values, refused otherwise.
- RNN `time_major` dropped when false (refused when true); LSTM/GRU `implementation`
  dropped (an execution strategy, same math).
- InputLayer `ragged` dropped when false (refused when true).
- `groups` of SeparableConv, DepthwiseConv2D and ConvTranspose layers (dropped when 1) and
  SpatialDropout `noise_shape` (dropped when null): tf.keras inherited them from Conv and
  Dropout; Keras 3 has no such argument there.
- LeakyReLU `alpha` -> `negative_slope`.
- Node indices (`inbound_nodes`, `output_layers`) that refer to a nested model: minus one
  (Keras 2 counted the nested model's own input-to-output node first).
- Wrapped layers (Bidirectional / TimeDistributed `layer`, `backward_layer`) and nested
  models are translated recursively.
- `activation` `hard_sigmoid` is refused: Keras 2 meant 0.2x + 0.5, Keras 3 means x/6 + 0.5.

- `trainable` on a layer whose Keras 3 class does not take it (weightless layers such as
  SpatialDropout2D): dropped (in `keras2.py`, which asks the Keras 3 class).

Any other key is passed on as is; `keras2.py` refuses keys the Keras 3 class does not take.
"""

from __future__ import annotations

from typing import Any

from app.errors import ModelError

Config = dict[str, Any]

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
WEIGHT_SETUP = ("_initializer", "_regularizer", "_constraint")
# Keras 2 keys with no Keras 3 meaning: dropped at these values, refused at any other.
NEUTRAL_VALUES: dict[str, tuple[Any, ...]] = {
    "fused": (None, True, False),
    "renorm": (False,),
    "renorm_clipping": (None,),
    "renorm_momentum": (0.99, None),
    "virtual_batch_size": (None,),
    "adjustment": (None,),
    "time_major": (False,),
    "ragged": (False, None),
    "implementation": (0, 1, 2),
}
# Keys tf.keras layers inherited from a parent class (Conv, Dropout) and Keras 3 lacks:
# key -> (the classes concerned, the values dropped; any other is refused).
INHERITED_KEYS: dict[str, tuple[frozenset[str], tuple[Any, ...]]] = {
    "groups": (
        frozenset(
            "SeparableConv1D SeparableConv2D DepthwiseConv2D Conv1DTranspose Conv2DTranspose"
            "".split()
        ),
        (1,),
    ),
    "noise_shape": (frozenset({"SpatialDropout1D", "SpatialDropout2D"}), (None,)),
}


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
    shape = config.get("batch_input_shape")
    if shape is None and short_class_name(first) == "Embedding" and "input_length" in config:
        shape = [None, config["input_length"]]
    if shape is None:
        raise ModelError(f"the Sequential model's first layer {config.get('name')!r} has no shape")
    dtype = dtype_name(config.get("dtype", "float32"))
    name = f"{config.get('name', 'model')}_input"
    input_config = {"batch_shape": list(shape), "dtype": dtype, "name": name}
    return {"module": "keras.layers", "class_name": "InputLayer", "config": input_config}


def translate_functional(config: object) -> Config:
    wanted = ("layers", "input_layers", "output_layers")
    if not isinstance(config, dict) or not all(isinstance(config.get(k), list) for k in wanted):
        raise ModelError(f"a functional model config without {', '.join(wanted)}")
    out = {k: config[k] for k in ("name", "trainable", *wanted) if k in config}
    out["layers"] = [translate_layer(layer) for layer in config["layers"]]
    nested = {layer["name"] for layer in out["layers"] if layer["class_name"] in MODEL_CLASSES}
    for layer in out["layers"]:
        layer["inbound_nodes"] = [shift_nodes(node, nested) for node in layer["inbound_nodes"]]
    out["output_layers"] = shift_nodes(out["output_layers"], nested)
    return out


def shift_nodes(refs: list[Any], nested: set[str]) -> list[Any]:
    """Keras 2 counted a nested model's own input-to-output node as node 0 (its config
    refers to the first call as node 1); Keras 3 has no such node."""
    if refs and isinstance(refs[0], str):  # a single [layer, node, tensor(, kwargs)]
        if refs[0] in nested and refs[1] > 0:
            return [refs[0], refs[1] - 1, *refs[2:]]
        return refs
    return [shift_nodes(ref, nested) for ref in refs]


def translate_layer_config(class_name: str, config: Config) -> Config:
    name = config.get("name", "?")
    for key in list(config):
        if key.endswith(WEIGHT_SETUP) or key == "activity_regularizer":
            del config[key]
        elif key in NEUTRAL_VALUES:
            drop_if_neutral(config, key, NEUTRAL_VALUES[key], f"layer {name!r} ({class_name})")
        elif key in INHERITED_KEYS and class_name in INHERITED_KEYS[key][0]:
            drop_if_neutral(config, key, INHERITED_KEYS[key][1], f"layer {name!r} ({class_name})")
    if "dtype" in config:
        config["dtype"] = dtype_name(config["dtype"])
    if class_name == "InputLayer":
        if "batch_input_shape" in config:
            config["batch_shape"] = config.pop("batch_input_shape")
    else:
        config.pop("batch_input_shape", None)
    if class_name == "Embedding":
        config.pop("input_length", None)
    if class_name == "BatchNormalization":
        config["axis"] = single_axis(config.get("axis", -1), name)
    if class_name == "LeakyReLU" and "alpha" in config:
        config["negative_slope"] = config.pop("alpha")
    for key in ("activation", "recurrent_activation"):
        if config.get(key) == "hard_sigmoid":
            raise ModelError(
                f"layer {name!r} ({class_name}) uses hard_sigmoid: Keras 2 meant 0.2x + 0.5, "
                "Keras 3 means x/6 + 0.5, so its outputs would change"
            )
    for key in ("layer", "backward_layer"):
        if isinstance(config.get(key), dict):
            config[key] = translate_layer(config[key])
    return config


def drop_if_neutral(config: Config, key: str, neutral: tuple[Any, ...], where: str) -> None:
    value = config.pop(key)
    if value not in neutral:
        raise ModelError(f"{where}: Keras 2 setting {key}={value!r} has no Keras 3 equivalent")


def dtype_name(dtype: object) -> str:
    """A dtype string, or the name inside a Keras 2 / Keras 3 policy dict."""
    if isinstance(dtype, str):
        return dtype
    if isinstance(dtype, dict) and isinstance(dtype.get("config", {}).get("name"), str):
        name: str = dtype["config"]["name"]
        return name
    raise ModelError(f"unreadable dtype {dtype!r}")


def single_axis(axis: object, name: str) -> int:
    if isinstance(axis, list) and len(axis) == 1:
        axis = axis[0]
    if not isinstance(axis, int):
        raise ModelError(f"BatchNormalization {name!r}: axis {axis!r} is not a single axis")
    return axis
