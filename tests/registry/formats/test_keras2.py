"""Keras 2 HDF5 files: rebuilt in Keras 3 with their weights, refused clearly when unsafe."""

import json
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tf_keras

from app.errors import ModelError
from app.registry.formats.keras2.load import load_keras2_h5
from tests.registry.formats.keras2_files import (
    keras224_image_cnn,
    keras224_text_cnn,
    save_with_tf_keras,
    write_keras224_h5,
)

LENGTH, VOCAB, DIM, FILTERS, WIDTH = 40, 50, 8, 6, 5


def text_cnn_weights(seed: int = 0, filters: int = FILTERS, width: int = WIDTH) -> dict:
    rng = np.random.default_rng(seed)
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    return {
        "embedding_1": [("embeddings", normal(VOCAB, DIM))],
        "conv1d_1": [("kernel", normal(width, DIM, filters)), ("bias", normal(filters))],
        "dense_1": [("kernel", normal(filters, 3)), ("bias", normal(3))],
    }


def numpy_text_cnn(ids: np.ndarray, weights: dict[str, list]) -> np.ndarray:
    """Embedding -> valid Conv1D + ReLU -> max over time -> Dense -> softmax, in numpy."""
    embeddings = weights["embedding_1"][0][1][ids]  # (B, T, D)
    kernel, bias = (value for _, value in weights["conv1d_1"])
    width = kernel.shape[0]
    steps = ids.shape[1] - width + 1
    windows = np.stack([embeddings[:, t : t + width] for t in range(steps)], axis=1)
    conv = np.maximum(np.einsum("btkd,kdf->btf", windows, kernel) + bias, 0.0)
    dense_kernel, dense_bias = (value for _, value in weights["dense_1"])
    logits = conv.max(axis=1) @ dense_kernel + dense_bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


@pytest.fixture
def keras224_file(tmp_path) -> tuple[Path, dict[str, list]]:
    weights = text_cnn_weights()
    path = tmp_path / "model.h5"
    write_keras224_h5(path, keras224_text_cnn(LENGTH, VOCAB, DIM, FILTERS, WIDTH), weights)
    return path, weights


@pytest.mark.parametrize(
    ("length", "filters", "width"),
    [(LENGTH, FILTERS, WIDTH), (3193, 128, 15)],
    ids=["small", "issue"],
)
def test_keras224_text_cnn_with_input_length_matches_a_numpy_forward(
    tmp_path, length, filters, width
):
    # The failing case: Sequential, Embedding(input_length=3193) then Conv1D(128, 15)
    # with 8-dimensional embeddings, saved by Keras 2.2.4.
    weights = text_cnn_weights(filters=filters, width=width)
    path = tmp_path / "model.h5"
    write_keras224_h5(path, keras224_text_cnn(length, VOCAB, DIM, filters, width), weights)
    model = load_keras2_h5(path)
    assert tuple(model.inputs[0].shape) == (None, length)
    ids = np.random.default_rng(1).integers(0, VOCAB, size=(4, length))
    expected = numpy_text_cnn(ids, weights)
    np.testing.assert_allclose(model.predict(ids, verbose=0), expected, rtol=1e-4, atol=1e-6)


def test_keras224_functional_image_cnn_matches_a_numpy_forward(tmp_path):
    rng = np.random.default_rng(8)
    normal = lambda *shape: rng.normal(size=shape).astype(np.float32)  # noqa: E731
    variance = rng.uniform(0.5, 2.0, size=3).astype(np.float32)
    weights = {
        "conv2d_1": [("kernel", normal(3, 3, 2, 3)), ("bias", normal(3))],
        "batch_normalization_1": [
            ("gamma", normal(3)), ("beta", normal(3)), ("moving_mean", normal(3)),
            ("moving_variance", variance),
        ],
        "dense_1": [("kernel", normal(27, 2)), ("bias", normal(2))],
    }  # fmt: skip
    path = tmp_path / "image.h5"
    write_keras224_h5(path, keras224_image_cnn(size=8, channels=2, filters=3), weights)
    images = rng.uniform(size=(2, 8, 8, 2)).astype(np.float32)
    expected = numpy_image_cnn(images, {name: [v for _, v in ws] for name, ws in weights.items()})
    model = load_keras2_h5(path)
    np.testing.assert_allclose(model.predict(images, verbose=0), expected, rtol=1e-4, atol=1e-6)


def numpy_image_cnn(images: np.ndarray, weights: dict[str, list]) -> np.ndarray:
    """Conv2D 3x3 valid + ReLU -> BatchNorm (inference) -> 2x2 max pool -> Dense softmax."""
    kernel, bias = weights["conv2d_1"]
    windows = np.lib.stride_tricks.sliding_window_view(images, (3, 3), axis=(1, 2))
    conv = np.maximum(np.einsum("bhwcij,ijcf->bhwf", windows, kernel) + bias, 0.0)  # (B,6,6,3)
    gamma, beta, mean, variance = weights["batch_normalization_1"]
    normed = gamma * (conv - mean) / np.sqrt(variance + 0.001) + beta
    pooled = normed.reshape(len(images), 3, 2, 3, 2, 3).max(axis=(2, 4))
    dense_kernel, dense_bias = weights["dense_1"]
    logits = pooled.reshape(len(images), -1) @ dense_kernel + dense_bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def assert_same_predictions(tf_model, path: Path, inputs: np.ndarray) -> None:
    save_with_tf_keras(tf_model, path)
    rebuilt = load_keras2_h5(path)
    expected = tf_model.predict(inputs, verbose=0)
    np.testing.assert_allclose(rebuilt.predict(inputs, verbose=0), expected, rtol=1e-4, atol=1e-5)
    assert [layer.name for layer in rebuilt.layers] == [layer.name for layer in tf_model.layers]


def randomize(model, seed: int = 0) -> None:
    """Non-trivial weights everywhere, including BatchNorm statistics (variances > 0)."""
    rng = np.random.default_rng(seed)
    model.set_weights([np.abs(rng.normal(size=w.shape)) * 0.5 + 0.1 for w in model.get_weights()])


def test_tf_keras_sequential_text_cnn_without_input_layer(tmp_path):
    layers = tf_keras.layers
    model = tf_keras.Sequential(
        [
            layers.Embedding(VOCAB, DIM, input_length=LENGTH),
            layers.Conv1D(FILTERS, WIDTH, activation="relu"),
            layers.GlobalMaxPooling1D(),
            layers.Dense(3, activation="softmax"),
        ]
    )
    randomize(model)
    ids = np.random.default_rng(2).integers(0, VOCAB, size=(3, LENGTH))
    assert_same_predictions(model, tmp_path / "text.h5", ids)


def tf_keras_image_cnn(name: str = "image_cnn"):
    layers = tf_keras.layers
    inputs = tf_keras.Input((16, 16, 3))
    x = layers.Conv2D(4, 3, padding="same", name="conv_a")(inputs)
    x = layers.BatchNormalization(name="bn_a")(x)
    x = layers.ReLU()(x)
    x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(6, 3, activation="relu", name="last_conv")(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(3, activation="softmax", name="probs")(x)
    return tf_keras.Model(inputs, outputs, name=name)


def test_tf_keras_functional_image_cnn_with_batchnorm(tmp_path):
    model = tf_keras_image_cnn()
    randomize(model)
    images = np.random.default_rng(3).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    assert_same_predictions(model, tmp_path / "image.h5", images)


def test_tf_keras_nested_models(tmp_path):
    layers = tf_keras.layers
    features = tf_keras.Sequential(
        [tf_keras.Input((16, 16, 3)), layers.Conv2D(4, 3), layers.BatchNormalization()],
        name="features",
    )
    inputs = tf_keras.Input((16, 16, 3))
    x = features(inputs)
    x = layers.Add()([x, layers.Conv2D(4, 3, name="side")(inputs)])
    x = layers.GlobalMaxPooling2D()(x)
    model = tf_keras.Model(inputs, layers.Dense(2, name="logits")(x))
    randomize(model, seed=4)
    images = np.random.default_rng(5).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    assert_same_predictions(model, tmp_path / "nested.h5", images)


@pytest.mark.parametrize("frozen", ["whole base", "one batchnorm"])
def test_tf_keras_transfer_learning_with_frozen_layers(tmp_path, frozen):
    # Keras 2 saves trainable weights before non-trainable ones: freezing reorders them.
    base = tf_keras_image_cnn(name="base")
    if frozen == "whole base":
        base.trainable = False
    else:
        base.get_layer("bn_a").trainable = False
    inputs = tf_keras.Input((16, 16, 3))
    outputs = tf_keras.layers.Dense(2, name="head")(base(inputs))
    model = tf_keras.Model(inputs, outputs)
    randomize(model, seed=9)
    images = np.random.default_rng(10).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    assert_same_predictions(model, tmp_path / "transfer.h5", images)


@pytest.mark.parametrize("input_layer", ["tf.keras", "none (keras 2.2)"])
def test_sequential_around_a_functional_base(tmp_path, input_layer):
    base = tf_keras_image_cnn(name="base")
    base.trainable = False
    model = tf_keras.Sequential([base, tf_keras.layers.Dense(2, name="head")])
    randomize(model, seed=14)
    path = tmp_path / "sequential.h5"
    save_with_tf_keras(model, path)
    if input_layer != "tf.keras":  # Keras 2.2 wrote no InputLayer: the shape is the base's
        edit_config(path, lambda config: config["config"]["layers"].pop(0))
    images = np.random.default_rng(15).uniform(size=(2, 16, 16, 3)).astype(np.float32)
    rebuilt = load_keras2_h5(path)
    expected = model.predict(images, verbose=0)
    np.testing.assert_allclose(rebuilt.predict(images, verbose=0), expected, rtol=1e-4, atol=1e-5)


def test_tf_keras_bidirectional_lstm(tmp_path):
    layers = tf_keras.layers
    inputs = tf_keras.Input((LENGTH,))
    x = layers.Embedding(VOCAB, DIM)(inputs)
    x = layers.Bidirectional(layers.LSTM(5, return_sequences=True))(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = tf_keras.Model(inputs, layers.Dense(2, activation="softmax")(x))
    randomize(model, seed=6)
    ids = np.random.default_rng(7).integers(0, VOCAB, size=(2, LENGTH))
    assert_same_predictions(model, tmp_path / "lstm.h5", ids)


def test_lambda_layer_is_refused_naming_the_layer(tmp_path):
    inputs = tf_keras.Input((4,))
    outputs = tf_keras.layers.Lambda(lambda x: x * 2, name="double")(inputs)
    save_with_tf_keras(tf_keras.Model(inputs, outputs), tmp_path / "lambda.h5")
    with pytest.raises(ModelError, match=r"'double' has class 'Lambda', which is not allowed"):
        load_keras2_h5(tmp_path / "lambda.h5")


def edit_config(path: Path, edit) -> None:
    """Rewrite the file's model_config through `edit(config)`."""
    with h5py.File(path, "r+") as file:
        config = json.loads(file.attrs["model_config"])
        edit(config)
        file.attrs["model_config"] = json.dumps(config).encode()


def test_unknown_class_is_refused(keras224_file):
    path, _ = keras224_file
    edit_config(path, lambda c: c["config"]["layers"][2].update(class_name="AttentionPool"))
    with pytest.raises(ModelError, match=r"'global_max_pooling1d_1' has class 'AttentionPool'"):
        load_keras2_h5(path)


def test_an_unknown_config_key_is_named(keras224_file):
    path, _ = keras224_file
    edit_config(path, lambda c: c["config"]["layers"][1]["config"].update(surprise=1))
    with pytest.raises(ModelError, match=r"'conv1d_1' \(Conv1D\).*\['surprise'\]"):
        load_keras2_h5(path)


def test_a_weight_of_the_wrong_shape_is_named(tmp_path):
    weights = text_cnn_weights()
    weights["conv1d_1"][0] = ("kernel", np.zeros((WIDTH + 1, DIM, FILTERS), np.float32))
    path = tmp_path / "bad.h5"
    write_keras224_h5(path, keras224_text_cnn(LENGTH, VOCAB, DIM, FILTERS, WIDTH), weights)
    with pytest.raises(ModelError, match=r"'conv1d_1': weight conv1d_1/kernel:0 has shape"):
        load_keras2_h5(path)


def test_a_missing_weight_count_is_named(tmp_path):
    weights = text_cnn_weights()
    weights["dense_1"] = weights["dense_1"][:1]
    path = tmp_path / "bad.h5"
    write_keras224_h5(path, keras224_text_cnn(LENGTH, VOCAB, DIM, FILTERS, WIDTH), weights)
    with pytest.raises(ModelError, match=r"'dense_1' has 2 weights; the file gives 1"):
        load_keras2_h5(path)


def test_weights_only_and_non_hdf5_files_are_refused(tmp_path):
    weights_only = tmp_path / "weights.h5"
    with h5py.File(weights_only, "w") as file:
        file.create_group("dense")
    with pytest.raises(ModelError, match="weights only"):
        load_keras2_h5(weights_only)
    not_hdf5 = tmp_path / "text.h5"
    not_hdf5.write_text("hello")
    with pytest.raises(ModelError, match="not a readable HDF5 file"):
        load_keras2_h5(not_hdf5)


def test_the_keras224_fixture_reproduces_keras_3s_own_failure(keras224_file):
    # The issue's symptom, so the hand-written layout is the one that breaks Keras 3's
    # legacy loader (if Keras 3 learns to read it, this test says so and can go).
    path, _ = keras224_file
    with pytest.raises(ValueError, match="Kernel shape must have the same length as input"):
        keras.saving.load_model(path, compile=False)


def test_a_keras_3_hdf5_file_is_sent_to_the_keras_format(tmp_path):
    inputs = keras.Input((4,))
    path = tmp_path / "keras3.h5"
    keras.Model(inputs, keras.layers.Dense(2)(inputs)).save(path)
    with pytest.raises(
        ModelError, match=r"written by Keras 3\.[0-9.]+, not Keras 2: save .* \.keras"
    ):
        load_keras2_h5(path)


def test_a_malformed_config_is_a_model_error(keras224_file):
    path, _ = keras224_file
    edit_config(path, lambda c: c["config"]["layers"][1].update(config=None))
    with pytest.raises(ModelError, match="Conv1D' has no config"):
        load_keras2_h5(path)
    edit_config(path, lambda c: c.update(config={"layers": "nope"}))
    with pytest.raises(ModelError, match="Sequential config without a list of layers"):
        load_keras2_h5(path)


def test_model_level_weights_outside_layers_are_refused(keras224_file):
    path, _ = keras224_file
    with h5py.File(path, "r+") as file:
        top = file["model_weights"].create_group("top_level_model_weights")
        top.attrs["weight_names"] = np.array([b"scale:0"])
        top.create_dataset("scale:0", data=np.ones(1, np.float32))
    with pytest.raises(ModelError, match="model-level weights outside any layer"):
        load_keras2_h5(path)
