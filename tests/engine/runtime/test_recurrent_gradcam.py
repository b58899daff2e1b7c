"""Grad-CAM on recurrent layers of a Keras 2 model equals a direct GradientTape computation.

The direct computation builds its own two-output model (layer output, model output) and
differentiates with a plain tape: none of the engine's replay, folding or compilation.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from app.engine.runtime.gradcam import GradCam
from app.registry.formats.keras2.load import load_keras2_h5
from tests.registry.formats.keras2_files import save_with_tf_keras
from tests.shared_files import SENTIMENT_H5, eli5_sentiment_published, shared_file

pytestmark = pytest.mark.slow  # LSTMs over 128 steps, traced and taped: about a minute
PUBLISHED = eli5_sentiment_published()


def tape_terms(model, layer_name: str, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(activations, gradient of output unit 0), both (B, T, C), by a plain tape.

    The layers are called one after another on tensors, watching the named one's output.
    """
    x = tf.constant(ids)
    with tf.GradientTape() as tape:
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            x = layer(x, training=False)
            if layer.name == layer_name:
                activations = x
                tape.watch(activations)
        score = x[:, 0]
    return activations.numpy(), tape.gradient(score, activations).numpy()


def gradcam_from(activations, gradients, relu: bool, counterfactual: bool) -> np.ndarray:
    """Grad-CAM as the paper (and ELI5) define it, in numpy: (B, T)."""
    weights = (-gradients if counterfactual else gradients).mean(axis=1)
    cam = np.einsum("btc,bc->bt", activations, weights)
    return np.maximum(cam, 0) if relu else cam


@pytest.fixture(scope="module")
def sentiment():
    return load_keras2_h5(shared_file(SENTIMENT_H5))


@pytest.fixture(scope="module")
def small_recurrent(tmp_path_factory):
    """A tf-keras Keras 2 file: Masking, Bidirectional LSTM and a GRU, hard_sigmoid gates.

    Sequential, so `tape_terms` can call its layers in order (masks pass between them).
    """
    layers = tf_keras.layers
    inputs = tf_keras.Input((12,), name="ids")
    x = layers.Masking(mask_value=0.0, name="mask")(layers.Embedding(30, 4, name="embed")(inputs))
    lstm = layers.LSTM(5, recurrent_activation="hard_sigmoid", return_sequences=True)
    x = layers.Bidirectional(lstm, name="bi")(x)
    x = layers.GRU(3, recurrent_activation="hard_sigmoid", return_sequences=True, name="gru")(x)
    x = layers.GlobalAveragePooling1D()(x)
    model = tf_keras.Model(inputs, layers.Dense(1, activation="sigmoid", name="out")(x))
    rng = np.random.default_rng(5)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in model.get_weights()])
    path = tmp_path_factory.mktemp("recurrent") / "model.h5"
    save_with_tf_keras(model, path)
    return load_keras2_h5(path)


def check_against_tape(model, layer: str, ids: np.ndarray) -> None:
    cam = GradCam(model, layer)
    activations, gradients = tape_terms(model, layer, ids)
    for relu, counterfactual in ((True, False), (False, False), (False, True), (True, True)):
        got = cam.explain(ids, relu=relu, counterfactual=counterfactual, score="output").cams
        expected = gradcam_from(activations, gradients, relu, counterfactual)
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("layer", ["bi", "gru", "mask", "embed"])
def test_small_recurrent_model(small_recurrent, layer):
    ids = np.random.default_rng(6).integers(1, 30, size=(3, 12))
    ids[1, 7:] = 0  # padding: masked from step 7 on
    check_against_tape(small_recurrent, layer, ids)


@pytest.mark.parametrize("layer", ["bidirectional_2"])  # the default; each costs ~1 min
def test_sentiment_model(sentiment, layer):
    test = PUBLISHED["test_review"]
    ids = np.array([[*test["ids"], *[0] * (test["padded_length"] - len(test["ids"]))]])
    check_against_tape(sentiment, layer, ids)


def test_eli5s_titles_are_the_map_over_the_gradients_l2_norm(sentiment):
    # ELI5's Keras backend L2-normalised the whole gradient tensor before pooling it, so
    # its raw weights (the HTML titles, each divided by its token's count) are the raw
    # Grad-CAM of the output divided by that norm; the service's maps are scale-free.
    custom = PUBLISHED["custom_review"]
    explanation = custom["explanations"]["bidirectional_2 relu=False"]
    ids = np.array([custom["ids"]])
    raw = GradCam(sentiment, "bidirectional_2").explain(ids, relu=False, score="output").cams[0]
    _, gradients = tape_terms(sentiment, "bidirectional_2", ids)
    counts = np.array([custom["tokens"].count(token) for token in custom["tokens"]])
    titles = raw / np.linalg.norm(gradients) / counts
    published = np.array([weight for _, _, weight in explanation["spans"]])
    np.testing.assert_allclose(titles, published, atol=0.0005 + 1e-6)  # three decimals
