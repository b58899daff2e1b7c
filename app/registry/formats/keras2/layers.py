"""Keras 2 layer config keys -> Keras 3 ones, one layer at a time.

Keys translated here (docs/model-cards.md lists them with the structural ones of
`keras2_config`):

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
- `activation` / `recurrent_activation` `hard_sigmoid` (Keras 2: clip(0.2x + 0.5, 0, 1);
  Keras 3's means clip(x/6 + 0.5, 0, 1)) -> the service's `keras2_hard_sigmoid`
  (`keras2_activations`), which computes Keras 2's. Wrapped layers and nested models get
  it through `keras2_config`, which translates them layer by layer.
"""

from __future__ import annotations

from typing import Any

from app.errors import ModelError
from app.registry.formats.keras2.activations import (
    KERAS2_HARD_SIGMOID_CONFIG,
    is_keras2_hard_sigmoid,
)

Config = dict[str, Any]

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
            {"SeparableConv1D", "SeparableConv2D", "DepthwiseConv2D"}
            | {"Conv1DTranspose", "Conv2DTranspose"}
        ),
        (1,),
    ),
    "noise_shape": (frozenset({"SpatialDropout1D", "SpatialDropout2D"}), (None,)),
}


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
        if is_keras2_hard_sigmoid(config.get(key)):
            config[key] = dict(KERAS2_HARD_SIGMOID_CONFIG)
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
