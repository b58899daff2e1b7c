"""Keras 2 HDF5 model files for tests, written two ways.

- `write_keras224_h5`: by hand with h5py, in the layout Keras 2.2.4 wrote: bytes
  attributes, a Sequential `model_config` without InputLayer whose first layer carries
  `batch_input_shape` (and Embedding `input_length`), old initializer dicts, and groups
  `model_weights/<layer>/<layer>/kernel:0` named by `weight_names`.
- `save_with_tf_keras`: by tf-keras 2.x itself (the `tf_keras` package: Keras 2 beside
  Keras 3), the oracle writer: its files are what Keras 2 users have.
"""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np

GLOROT = {
    "class_name": "VarianceScaling",
    "config": {"scale": 1.0, "mode": "fan_avg", "distribution": "uniform", "seed": None},
}
ZEROS = {"class_name": "Zeros", "config": {}}
NO_EXTRAS = {"kernel_regularizer": None, "bias_regularizer": None, "activity_regularizer": None}
CONSTRAINTS = {"kernel_constraint": None, "bias_constraint": None}


def keras224_text_cnn(length: int, vocab: int, dim: int, filters: int, width: int) -> dict:
    """The model_config Keras 2.2.4 wrote for Embedding -> Conv1D -> max -> Dense."""
    embedding = {
        "name": "embedding_1",
        "trainable": True,
        "batch_input_shape": [None, length],
        "dtype": "float32",
        "input_dim": vocab,
        "output_dim": dim,
        "embeddings_initializer": {
            "class_name": "RandomUniform",
            "config": {"minval": -0.05, "maxval": 0.05, "seed": None},
        },
        "embeddings_regularizer": None,
        "activity_regularizer": None,
        "embeddings_constraint": None,
        "mask_zero": False,
        "input_length": length,
    }
    conv = {
        "name": "conv1d_1",
        "trainable": True,
        "filters": filters,
        "kernel_size": [width],
        "strides": [1],
        "padding": "valid",
        "data_format": "channels_last",
        "dilation_rate": [1],
        "activation": "relu",
        "use_bias": True,
        "kernel_initializer": GLOROT,
        "bias_initializer": ZEROS,
        **NO_EXTRAS,
        **CONSTRAINTS,
    }
    pool = {"name": "global_max_pooling1d_1", "trainable": True, "data_format": "channels_last"}
    dense = {
        "name": "dense_1",
        "trainable": True,
        "units": 3,
        "activation": "softmax",
        "use_bias": True,
        "kernel_initializer": GLOROT,
        "bias_initializer": ZEROS,
        **NO_EXTRAS,
        **CONSTRAINTS,
    }
    layers = [
        {"class_name": "Embedding", "config": embedding},
        {"class_name": "Conv1D", "config": conv},
        {"class_name": "GlobalMaxPooling1D", "config": pool},
        {"class_name": "Dense", "config": dense},
    ]
    return {"class_name": "Sequential", "config": {"name": "sequential_1", "layers": layers}}


def write_keras224_h5(path: Path, model_config: dict, weights: dict[str, list]) -> None:
    """`weights`: layer name -> [(weight name, array)] in Keras 2's order; every layer of the
    config is listed in `layer_names`, weightless ones with an empty group."""
    layer_names = [layer["config"]["name"] for layer in model_config["config"]["layers"]]
    with h5py.File(path, "w") as file:
        file.attrs["keras_version"] = b"2.2.4"
        file.attrs["backend"] = b"tensorflow"
        file.attrs["model_config"] = json.dumps(model_config).encode("utf-8")
        group = file.create_group("model_weights")
        group.attrs["layer_names"] = [name.encode("utf-8") for name in layer_names]
        group.attrs["backend"] = b"tensorflow"
        group.attrs["keras_version"] = b"2.2.4"
        for name in layer_names:
            layer_group = group.create_group(name)
            stored = weights.get(name, [])
            layer_group.attrs["weight_names"] = np.array(
                [f"{name}/{weight}:0".encode() for weight, _ in stored], dtype="S"
            )
            for weight, value in stored:
                layer_group.create_dataset(f"{name}/{weight}:0", data=value)


def save_with_tf_keras(model: object, path: Path) -> None:
    """`model.save(path)` by tf-keras 2.x: a real Keras 2 HDF5 file."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "HDF5 is a legacy format"
        model.save(path)  # type: ignore[attr-defined]


def keras224_image_cnn(size: int, channels: int, filters: int) -> dict:
    """The model_config Keras 2.2.4 wrote for a functional Conv2D -> BN -> pool -> Dense."""
    batchnorm_setup = {
        f"{weight}_{kind}": value
        for weight in ("beta", "gamma", "moving_mean", "moving_variance")
        for kind, value in (("initializer", ZEROS), ("regularizer", None), ("constraint", None))
        if not (weight.startswith("moving") and kind != "initializer")
    }
    specs = [
        ("input_1", "InputLayer", {"batch_input_shape": [None, size, size, channels],
                                   "dtype": "float32", "sparse": False}),
        ("conv2d_1", "Conv2D", {"filters": filters, "kernel_size": [3, 3], "strides": [1, 1],
                                "padding": "valid", "data_format": "channels_last",
                                "dilation_rate": [1, 1], "activation": "relu", "use_bias": True,
                                "kernel_initializer": GLOROT, "bias_initializer": ZEROS,
                                **NO_EXTRAS, **CONSTRAINTS}),
        ("batch_normalization_1", "BatchNormalization", {"axis": -1, "momentum": 0.99,
                                                         "epsilon": 0.001, "center": True,
                                                         "scale": True, **batchnorm_setup}),
        ("max_pooling2d_1", "MaxPooling2D", {"pool_size": [2, 2], "padding": "valid",
                                             "strides": [2, 2], "data_format": "channels_last"}),
        ("flatten_1", "Flatten", {"data_format": "channels_last"}),
        ("dense_1", "Dense", {"units": 2, "activation": "softmax", "use_bias": True,
                              "kernel_initializer": GLOROT, "bias_initializer": ZEROS,
                              **NO_EXTRAS, **CONSTRAINTS}),
    ]  # fmt: skip
    layers = []
    for index, (name, class_name, config) in enumerate(specs):
        trainable = {} if class_name == "InputLayer" else {"trainable": True}
        inbound = [[[specs[index - 1][0], 0, 0, {}]]] if index else []
        layers.append(
            {
                "name": name,
                "class_name": class_name,
                "config": {"name": name, **trainable, **config},
                "inbound_nodes": inbound,
            }
        )
    config = {
        "name": "model_1",
        "layers": layers,
        "input_layers": [["input_1", 0, 0]],
        "output_layers": [["dense_1", 0, 0]],
    }
    return {"class_name": "Model", "config": config}
