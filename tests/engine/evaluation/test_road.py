"""ROAD against pytorch-grad-cam 1.5.7's own code on the same weights: the committed
fixture tests/data/road_reference.npz (bench/road_reference.py writes it, noise 0)."""

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.evaluation.road import impute, road, road_masks

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "road_reference.npz"


@pytest.fixture(scope="module")
def reference():
    return dict(np.load(FIXTURE))


def twin(reference) -> keras.Model:
    """The fixture's torch network in Keras: conv 3x3 'same', ReLU, global mean, dense."""
    inputs = keras.Input(reference["inputs"].shape[1:])
    x = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3)(x)
    model = keras.Model(inputs, outputs)
    model.set_weights(
        [reference["kernel"], reference["bias"], reference["dense"], reference["dense_bias"]]
    )
    return model


def test_imputation_equals_pytorch_gradcam(reference):
    cam = reference["cams"][0]
    keep, _ = road_masks(cam, 50)
    ours = impute(reference["inputs"][0], keep, 0.0, np.random.default_rng(0))
    np.testing.assert_allclose(ours, reference["imputed_morf50"], atol=1e-6)
    assert np.array_equal(ours[keep], reference["inputs"][0][keep])  # kept pixels as they were


def test_road_equals_pytorch_gradcam(reference):
    model = twin(reference)
    scores = road(
        lambda x: np.asarray(model(x)),
        reference["inputs"],
        reference["cams"],
        reference["targets"],
        noise=0.0,
    )
    for name in ("road", "morf", "lerf"):
        np.testing.assert_allclose(scores[name], reference[name], atol=2e-5, err_msg=name)
    assert len(set(np.sign(reference["road"]))) == 2  # the fixture has both signs


def test_an_imputed_pixel_is_the_mean_of_its_neighbours():
    image = np.arange(25, dtype=np.float32).reshape(5, 5, 1)
    keep = np.ones((5, 5), bool)
    keep[2, 2] = False
    imputed = impute(image, keep, 0.0, np.random.default_rng(0))
    around = image[1:4, 1:4, 0]
    weights = np.array([[1, 2, 1], [2, 0, 2], [1, 2, 1]]) / 12
    assert imputed[2, 2, 0] == pytest.approx(float((around * weights).sum()))


def test_noise_is_added_to_imputed_pixels_only():
    image = np.zeros((6, 6, 2), np.float32)
    keep = np.zeros((6, 6), bool)
    keep[:3] = True
    imputed = impute(image, keep, 0.01, np.random.default_rng(1))
    assert np.all(imputed[:3] == 0)
    assert 0.005 < imputed[3:].std() < 0.02
