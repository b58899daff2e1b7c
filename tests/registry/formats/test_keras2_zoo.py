"""Every allow-listed layer class, saved by tf-keras 2.21 and rebuilt: same predictions."""

import json

import h5py
import numpy as np
import pytest
import tf_keras

from app.registry.formats.keras2.config import ALLOWED_LAYERS
from app.registry.formats.keras2.load import load_keras2_h5
from tests.registry.formats.keras2_files import save_with_tf_keras
from tests.registry.formats.test_keras2 import randomize

L = tf_keras.layers


def image_zoo():
    inputs = tf_keras.Input((12, 12, 3))
    a = L.SeparableConv2D(4, 3, padding="same")(inputs)
    b = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(inputs)
    x = L.LayerNormalization()(L.Concatenate()([a, b]))
    x = L.LeakyReLU(0.1)(L.Conv2DTranspose(3, 3, strides=2)(L.PReLU()(x)))
    x = L.AveragePooling2D()(L.Cropping2D(1)(L.ZeroPadding2D(1)(x)))
    x = L.SpatialDropout2D(0.2)(L.ELU()(L.UpSampling2D()(x)))
    x = L.Conv2D(2, 3, activation="swish")(L.Activation("tanh")(x))
    x = L.BatchNormalization()(L.MaxPooling2D()(L.Rescaling(0.5, 0.1)(x)))
    x = L.GlobalMaxPooling2D()(L.ReLU(max_value=6.0)(x))
    y = L.GlobalAveragePooling2D()(L.GaussianNoise(0.1)(inputs))
    outputs = L.Softmax()(L.Dense(3)(L.Concatenate()([x, y])))
    return tf_keras.Model(inputs, outputs), np.random.default_rng(0).uniform(size=(2, 12, 12, 3))


def text_zoo():
    inputs = tf_keras.Input((10,))
    e = L.Embedding(30, 4)(inputs)
    parts = [
        L.GRU(3, reset_after=False, return_sequences=True)(e),  # Keras 2.2's GRU
        L.GRU(3, return_sequences=True)(e),
        L.SimpleRNN(3, return_sequences=True)(e),
        L.TimeDistributed(L.Dense(2))(e),
        L.Bidirectional(L.LSTM(2, return_sequences=True))(e),
        L.SeparableConv1D(2, 3, padding="same")(e),
        L.UpSampling1D(2)(L.Cropping1D(1)(L.ZeroPadding1D(1)(L.MaxPooling1D()(e)))),
        L.Conv1DTranspose(2, 2, strides=2)(L.AveragePooling1D()(e)),
    ]
    x = L.Masking()(L.SpatialDropout1D(0.1)(L.Concatenate()(parts)))
    x = L.Flatten()(L.MaxPooling1D()(L.Conv1D(3, 3)(x)))
    x = L.GlobalMaxPooling1D()(L.Permute((2, 1))(L.Reshape((3, -1))(x)))
    y = L.GlobalAveragePooling1D()(L.RepeatVector(4)(L.Dense(2)(L.Flatten()(e))))
    x = L.Concatenate()([L.GaussianDropout(0.1)(x), L.AlphaDropout(0.1)(y)])
    outputs = L.Dense(2)(L.Dropout(0.1)(x))
    return tf_keras.Model(inputs, outputs), np.random.default_rng(1).integers(0, 30, size=(2, 10))


def merge_zoo():
    inputs = tf_keras.Input((6,))
    a, b = L.Dense(4)(inputs), L.Dense(4)(inputs)
    merged = [
        L.Add()([a, b]),
        L.Subtract()([a, b]),
        L.Multiply()([a, b]),
        L.Average()([a, b]),
        L.Maximum()([a, b]),
        L.Minimum()([a, b]),
        L.Dot(axes=1)([a, b]),
    ]
    outputs = L.Dense(2)(L.Concatenate()(merged))
    return tf_keras.Model(inputs, outputs), np.random.default_rng(2).uniform(size=(2, 6))


def volume_zoo():
    inputs = tf_keras.Input((4, 6, 6, 1))
    x = L.AveragePooling3D(pool_size=1)(L.MaxPooling3D()(L.Conv3D(2, 3, padding="same")(inputs)))
    outputs = L.Dense(2)(L.Flatten()(x))
    return tf_keras.Model(inputs, outputs), np.random.default_rng(3).uniform(size=(2, 4, 6, 6, 1))


def masked_lstm():
    inputs = tf_keras.Input((10,))
    outputs = L.Dense(2)(L.LSTM(3)(L.Embedding(30, 4, mask_zero=True)(inputs)))
    ids = np.array([[1, 2, 3, 0, 0, 0, 0, 0, 0, 0], [4, 5, 6, 7, 8, 9, 1, 2, 0, 0]])
    return tf_keras.Model(inputs, outputs), ids


ZOOS = [image_zoo, text_zoo, merge_zoo, volume_zoo, masked_lstm]


@pytest.fixture(scope="module")
def saved_zoos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("zoo")
    saved = {}
    for index, build in enumerate(ZOOS):
        model, inputs = build()
        randomize(model, seed=index)
        path = folder / f"{build.__name__}.h5"
        save_with_tf_keras(model, path)
        saved[build.__name__] = (path, inputs, model.predict(inputs, verbose=0))
    return saved


@pytest.mark.parametrize("zoo", [build.__name__ for build in ZOOS])
def test_zoo_predictions_equal_tf_keras(saved_zoos, zoo):
    path, inputs, expected = saved_zoos[zoo]
    got = load_keras2_h5(path).predict(inputs, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_the_zoos_cover_every_allowed_class(saved_zoos):
    seen = set()
    for path, _, _ in saved_zoos.values():
        with h5py.File(path) as file:
            collect_classes(json.loads(file.attrs["model_config"]), seen)
    assert sorted(ALLOWED_LAYERS - seen) == []


def collect_classes(node: object, seen: set[str]) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("class_name"), str):
            seen.add(node["class_name"])
        for value in node.values():
            collect_classes(value, seen)
    elif isinstance(node, list):
        for value in node:
            collect_classes(value, seen)
