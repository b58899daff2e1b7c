"""Loading a Keras 2 HDF5 model file (`model.save("x.h5")` in Keras 2.x / tf.keras <= 2.15).

The architecture is rebuilt with Keras 3 from the file's `model_config`, translated by
`keras2_config` (allow-listed classes only), then each layer's weights are set from
`model_weights/<layer>/`, in the order of the group's `weight_names` attribute.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import h5py
import keras
import numpy as np

from app.errors import ModelError
from app.registry.formats.keras2.activations import KERAS2_OBJECTS
from app.registry.formats.keras2.config import translate_model
from app.registry.formats.keras2.layers import Config

# Keyword arguments every Keras 3 layer takes through its base class.
BASE_LAYER_KEYS = frozenset({"name", "trainable", "dtype", "autocast"})


def load_keras2_h5(path: Path) -> keras.Model:
    """The model in `path`, rebuilt in Keras 3 with the file's weights."""
    try:
        with h5py.File(path, "r") as file:
            check_keras_version(file)
            model = build_model(translated_config(read_model_config(file)))
            set_weights(model, weights_group(file))
    except OSError as exc:
        raise ModelError(f"{path.name} is not a readable HDF5 file: {exc}") from exc
    return model


def read_model_config(file: h5py.File) -> Config:
    raw = file.attrs.get("model_config")
    if raw is None:
        raise ModelError(
            "the HDF5 file has no model_config: it holds weights only (save_weights); "
            "save the whole model with model.save"
        )
    try:
        config = json.loads(text_attr(raw))
    except ValueError as exc:
        raise ModelError(f"the model_config attribute is not JSON: {exc}") from exc
    if not isinstance(config, dict):
        raise ModelError("the model_config attribute is not a JSON object")
    return config


def check_keras_version(file: h5py.File) -> None:
    version = text_attr(file.attrs.get("keras_version", b""))
    if version.startswith("3"):
        raise ModelError(
            f"the HDF5 file was written by Keras {version}, not Keras 2: "
            'save the model as .keras (model.save("model.keras")) and name that file'
        )


def translated_config(model_config: Config) -> Config:
    try:
        return translate_model(model_config)
    except (KeyError, IndexError, TypeError, AttributeError) as exc:  # a malformed config
        raise ModelError(f"the model_config is not a Keras 2 model config: {exc!r}") from exc


def text_attr(value: Any) -> str:
    """Keras 2.2 wrote HDF5 attributes as bytes, later versions as str."""
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def build_model(config: Config) -> keras.Model:
    fit_layer_keys(config)
    try:
        # Only allow-listed classes reach Keras (translate_model checked every one); the
        # one custom object is Keras 2's hard sigmoid, computed by the service itself.
        model = keras.saving.deserialize_keras_object(
            config, custom_objects=KERAS2_OBJECTS, safe_mode=True
        )
    except Exception as exc:  # Keras raises many types for a config it cannot build
        raise ModelError(f"Keras 3 cannot rebuild the translated model: {exc}") from exc
    if not isinstance(model, keras.Model):
        raise ModelError("the model_config does not describe a model")
    return model


def fit_layer_keys(entry: Config) -> None:
    """Refuse a config key the Keras 3 class does not take, naming layer, class and key.

    `trainable`, which Keras 2 wrote for every layer, is dropped where Keras 3's class
    does not take it (weightless layers such as SpatialDropout2D).
    """
    class_name, config = entry["class_name"], entry["config"]
    if class_name in ("Sequential", "Functional"):
        for layer in config["layers"]:
            fit_layer_keys(layer)
        return
    for key in ("layer", "backward_layer"):
        if isinstance(config.get(key), dict):
            fit_layer_keys(config[key])
    accepted = accepted_keys(getattr(keras.layers, class_name))
    if "trainable" not in accepted:
        config.pop("trainable", None)
    unknown = sorted(set(config) - accepted)
    if unknown:
        raise ModelError(
            f"layer {config.get('name')!r} ({class_name}): Keras 2 config keys {unknown} "
            "have no Keras 3 equivalent"
        )


def accepted_keys(layer_class: type) -> frozenset[str]:
    """The class's own arguments, and the base Layer's when it passes **kwargs on."""
    params = inspect.signature(layer_class).parameters  # the __init__ arguments
    named = frozenset(name for name, p in params.items() if p.kind is not p.VAR_KEYWORD)
    passes_on = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return named | BASE_LAYER_KEYS if passes_on else named


def weights_group(file: h5py.File) -> h5py.Group:
    group = file.get("model_weights")
    if not isinstance(group, h5py.Group):
        raise ModelError("the HDF5 file has no model_weights group")
    return group


def set_weights(model: keras.Model, group: h5py.Group) -> None:
    """Set every layer's weights from its group; every layer with weights must have one."""
    top_level = group.get("top_level_model_weights")  # tf.keras: weights of no layer
    if isinstance(top_level, h5py.Group) and len(top_level.attrs.get("weight_names", [])):
        raise ModelError("the file has model-level weights outside any layer (a custom model)")
    names = [text_attr(name) for name in group.attrs.get("layer_names", [])]
    for name in names:
        stored = stored_weights(group, name)
        if stored:
            set_layer_weights(find_layer(model, name), stored)
    missing = [
        layer.name for layer in model.layers if layer.weights and layer.name not in set(names)
    ]
    if missing:
        raise ModelError(f"the file has no weights for layers {missing}")


def stored_weights(group: h5py.Group, layer_name: str) -> list[tuple[str, np.ndarray]]:
    layer_group = group.get(layer_name)
    if not isinstance(layer_group, h5py.Group):
        raise ModelError(f"model_weights has no group for layer {layer_name!r}")
    names = [text_attr(name) for name in layer_group.attrs.get("weight_names", [])]
    try:
        return [(name, np.asarray(layer_group[name])) for name in names]
    except KeyError as exc:
        raise ModelError(f"layer {layer_name!r}: a listed weight is missing: {exc}") from exc


def find_layer(model: keras.Model, name: str) -> keras.layers.Layer:
    try:
        return model.get_layer(name)
    except ValueError as exc:
        raise ModelError(f"the file has weights for {name!r}, a layer the model lacks") from exc


def set_layer_weights(layer: keras.layers.Layer, stored: list[tuple[str, np.ndarray]]) -> None:
    """Keras 2 saved a layer's trainable weights, then its non-trainable ones."""
    variables = list(layer.trainable_weights) + list(layer.non_trainable_weights)
    if len(variables) != len(stored):
        raise ModelError(
            f"layer {layer.name!r} has {len(variables)} weights; the file gives {len(stored)} "
            f"({', '.join(name for name, _ in stored)})"
        )
    for variable, (name, value) in zip(variables, stored, strict=True):
        if tuple(variable.shape) != value.shape:
            raise ModelError(
                f"layer {layer.name!r}: weight {name} has shape {value.shape} in the file, "
                f"but the model expects {tuple(variable.shape)} ({variable.path})"
            )
        variable.assign(value)
