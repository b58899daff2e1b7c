"""Keras 2's hard_sigmoid, clip(0.2x + 0.5, 0, 1), kept in recurrent models saved by tf-keras.

Every fixture is written by tf-keras 2.x (the Keras 2 oracle) with `hard_sigmoid` where a
config can name it; the rebuilt Keras 3 model must predict what tf-keras predicts. The
weights are drawn wide enough that gates reach both the linear part and the clipped ends.
"""

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from app.errors import ModelError
from app.registry.formats.keras2.activations import keras2_hard_sigmoid
from app.registry.formats.keras2.load import load_keras2_h5
from app.registry.formats.loader import load_keras3_file
from tests.registry.formats.keras2_files import save_with_tf_keras
from tests.registry.formats.test_keras2 import edit_config

L = tf_keras.layers
STEPS, VOCAB = 7, 20


def test_keras2_hard_sigmoid_equals_tf_keras_and_not_keras_3():
    x = np.array([-4.0, -3.0, -2.5, -1.0, -0.3, 0.0, 0.4, 1.0, 2.5, 3.0, 4.0], np.float32)
    ours = np.asarray(keras2_hard_sigmoid(x))
    oracle = tf_keras.activations.hard_sigmoid(tf.constant(x)).numpy()
    np.testing.assert_array_equal(ours, oracle)
    np.testing.assert_allclose(ours[[3, 7]], [0.3, 0.7], atol=1e-7)  # the values
    assert np.abs(ours - np.asarray(keras.activations.hard_sigmoid(x))).max() > 0.08  # at 2.5


def widen(model, seed: int) -> None:
    """Weights ~ N(0, 1): pre-activations spread over [-2.5, 2.5] and beyond."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])


def sequence_model(recurrent) -> tuple[object, np.ndarray]:
    inputs = tf_keras.Input((STEPS,))
    x = recurrent(L.Embedding(VOCAB, 4)(inputs))
    return tf_keras.Model(inputs, L.Dense(2)(x)), ids_batch()


def ids_batch() -> np.ndarray:
    return np.random.default_rng(3).integers(0, VOCAB, size=(3, STEPS))


def lstm():
    return sequence_model(L.LSTM(3, recurrent_activation="hard_sigmoid"))


def gru():
    return sequence_model(L.GRU(3, recurrent_activation="hard_sigmoid", reset_after=False))


def gru_reset_after():
    return sequence_model(L.GRU(3, recurrent_activation="hard_sigmoid"))


def simple_rnn():  # hard_sigmoid as the activation itself
    return sequence_model(L.SimpleRNN(3, activation="hard_sigmoid"))


def bidirectional():
    layer = L.LSTM(3, recurrent_activation="hard_sigmoid", activation="hard_sigmoid")
    return sequence_model(L.Bidirectional(layer))


def bidirectional_backward_layer():
    forward = L.GRU(3, recurrent_activation="hard_sigmoid", return_sequences=True)
    backward = L.LSTM(3, recurrent_activation="hard_sigmoid", return_sequences=True,
                      go_backwards=True)  # fmt: skip
    return sequence_model(
        lambda x: L.GlobalMaxPooling1D()(L.Bidirectional(forward, backward_layer=backward)(x))
    )


def time_distributed():
    def head(x):
        x = L.TimeDistributed(L.Dense(3, activation="hard_sigmoid"))(x)
        return L.Flatten()(L.Activation("hard_sigmoid")(x))

    return sequence_model(head)


def two_branches():
    inputs = tf_keras.Input((STEPS,))
    embedded = L.Embedding(VOCAB, 4)(inputs)
    a = L.LSTM(3, recurrent_activation="hard_sigmoid", name="branch_lstm")(embedded)
    b = L.GRU(2, recurrent_activation="hard_sigmoid", name="branch_gru")(embedded)
    outputs = L.Dense(1, activation="sigmoid")(L.Concatenate()([a, b]))
    return tf_keras.Model(inputs, outputs), ids_batch()


def nested_model():
    inner_inputs = tf_keras.Input((STEPS, 4))
    inner = L.LSTM(3, recurrent_activation="hard_sigmoid", return_sequences=True)(inner_inputs)
    encoder = tf_keras.Model(inner_inputs, inner, name="encoder")
    inputs = tf_keras.Input((STEPS,))
    x = L.GlobalAveragePooling1D()(encoder(L.Embedding(VOCAB, 4)(inputs)))
    return tf_keras.Model(inputs, L.Dense(2)(x)), ids_batch()


FIXTURES = [
    lstm, gru, gru_reset_after, simple_rnn, bidirectional, bidirectional_backward_layer,
    time_distributed, two_branches, nested_model,
]  # fmt: skip


@pytest.mark.parametrize("build", FIXTURES, ids=[f.__name__ for f in FIXTURES])
def test_hard_sigmoid_models_predict_as_tf_keras(tmp_path, build):
    model, ids = build()
    widen(model, seed=len(build.__name__))
    path = tmp_path / "model.h5"
    save_with_tf_keras(model, path)
    with h5py.File(path) as file:
        assert b"hard_sigmoid" in file.attrs["model_config"].encode()  # the fixture's point
    expected = model.predict(ids, verbose=0)
    got = load_keras2_h5(path).predict(ids, verbose=0)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_keras_3_meaning_would_change_the_outputs(tmp_path):
    # Guards the test above: with Keras 3's hard_sigmoid these fixtures predict otherwise.
    model, ids = lstm()
    widen(model, seed=1)
    save_with_tf_keras(model, tmp_path / "model.h5")
    rebuilt = load_keras2_h5(tmp_path / "model.h5")
    lstm_layer = next(layer for layer in rebuilt.layers if isinstance(layer, keras.layers.LSTM))
    lstm_layer.cell.recurrent_activation = keras.activations.hard_sigmoid
    difference = np.abs(rebuilt.predict(ids, verbose=0) - model.predict(ids, verbose=0)).max()
    assert difference > 1e-3


def test_a_keras_file_keeps_keras_3s_hard_sigmoid(tmp_path):
    inputs = keras.Input((5,))
    dense = keras.layers.Dense(5, activation="hard_sigmoid", kernel_initializer="identity")
    keras.Model(inputs, dense(inputs)).save(tmp_path / "model.keras")
    x = np.array([[-4.0, -1.0, 0.0, 1.0, 2.5]], np.float32)
    got = load_keras3_file(tmp_path / "model.keras").predict(x, verbose=0)
    np.testing.assert_allclose(got, np.clip(x / 6 + 0.5, 0, 1), atol=1e-7)  # relu6(x + 3) / 6


def test_other_custom_functions_are_still_refused(tmp_path):
    model, _ = lstm()
    save_with_tf_keras(model, tmp_path / "model.h5")
    other = {"module": None, "class_name": "function", "config": "evil>run",
             "registered_name": "evil>run"}  # fmt: skip

    def plant(config):
        config["config"]["layers"][2]["config"]["activation"] = other

    edit_config(tmp_path / "model.h5", plant)
    with pytest.raises(ModelError, match="cannot rebuild the translated model"):
        load_keras2_h5(tmp_path / "model.h5")
