"""Tiny Keras models built in fixtures and round-tripped through `.keras` files."""

from pathlib import Path

import keras
import numpy as np
import pytest


def round_trip(model: keras.Model, folder: Path) -> keras.Model:
    path = folder / f"{model.name}.keras"
    model.save(path)
    return keras.saving.load_model(path, compile=False, safe_mode=True)


@pytest.fixture
def image_model(tmp_path: Path) -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_b")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return round_trip(keras.Model(inputs, outputs, name="tiny_image"), tmp_path)


@pytest.fixture
def nested_model(tmp_path: Path) -> keras.Model:
    """Transfer-learning shape: a frozen functional base inside a new head."""
    keras.utils.set_random_seed(2)
    base_in = keras.Input((16, 16, 3))
    y = keras.layers.Conv2D(4, 3, activation="relu", name="base_conv1")(base_in)
    y = keras.layers.Conv2D(5, 3, activation="relu", name="base_conv2")(y)
    base = keras.Model(base_in, y, name="base")
    base.trainable = False
    inputs = keras.Input((16, 16, 3))
    x = base(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return round_trip(keras.Model(inputs, outputs, name="nested"), tmp_path)


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).random((4, 16, 16, 3), dtype=np.float32)


@pytest.fixture
def deep_image_model(tmp_path: Path) -> keras.Model:
    """Three convolutions: at conv_a the gradient varies over positions."""
    keras.utils.set_random_seed(3)
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="conv_a")(inputs)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_b")(x)
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv_c")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="predictions")(x)
    return round_trip(keras.Model(inputs, outputs, name="deep_image"), tmp_path)


@pytest.fixture
def text_model(tmp_path: Path) -> keras.Model:
    keras.utils.set_random_seed(4)
    inputs = keras.Input((12,), dtype="int32")
    x = keras.layers.Embedding(20, 5, name="embed")(inputs)
    x = keras.layers.Conv1D(6, 3, activation="relu", name="conv_t")(x)
    x = keras.layers.Conv1D(4, 3, activation="relu", name="conv_u")(x)
    x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return round_trip(keras.Model(inputs, outputs, name="tiny_text"), tmp_path)


@pytest.fixture
def token_ids() -> np.ndarray:
    return np.random.default_rng(5).integers(0, 20, (3, 12)).astype(np.int32)
