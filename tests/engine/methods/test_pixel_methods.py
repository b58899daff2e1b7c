"""The pixel-level methods against tf-keras-vis 0.8.7 and a direct tape computation, and
their engine behaviour: seeds, chunking, no retrace, SavedModels, refusals, zero maps."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from tf_keras_vis import saliency as tf_keras_vis_saliency
from tf_keras_vis.saliency import Saliency
from tf_keras_vis.utils.scores import CategoricalScore

from app.engine.methods.pixel.options import PixelOptions
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import load_saved_model
from bench.oracle_cnn import LAST_CONV, keras_model, oracle_images
from tests import savedmodels as sm

TOLERANCE = 1e-5  # of the reference's largest |value|


@pytest.fixture(scope="module")
def cnn() -> keras.Model:
    return keras_model()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return oracle_images()


def assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    scale = float(np.abs(theirs).max())
    assert scale > 0
    np.testing.assert_allclose(ours, theirs, atol=TOLERANCE * scale, rtol=0)


def test_saliency_equals_tf_keras_vis(cnn, images):
    ours = GradCam(cnn, LAST_CONV, method="saliency").explain(images, score="output")
    for row, target in enumerate(ours.targets):
        theirs = Saliency(cnn)(
            CategoricalScore([int(target)]), images[row : row + 1], normalize_map=False
        )
        assert_close(ours.cams[row], theirs[0])


def test_smoothgrad_equals_tf_keras_vis_with_the_same_noise(cnn, images, monkeypatch):
    samples, seed, noise = 6, 17, 0.2
    options = PixelOptions(samples=samples, noise=noise, seed=seed)
    ours = GradCam(cnn, LAST_CONV, method="smoothgrad").explain(
        images, score="output", pixel=options
    )
    draws = tf.random.stateless_normal((samples, *images.shape[1:]), [seed, 0]).numpy()

    def same_noise(mean, sigma, shape):  # tf-keras-vis draws (samples, 1, H, W, C)
        return mean + np.asarray(sigma) * draws[:, None]

    monkeypatch.setattr(tf_keras_vis_saliency.np.random, "normal", same_noise)
    for row, target in enumerate(ours.targets):
        theirs = Saliency(cnn)(
            CategoricalScore([int(target)]),
            images[row : row + 1],
            smooth_samples=samples,
            smooth_noise=noise,
            normalize_map=False,
        )
        assert_close(ours.cams[row], theirs[0])


def direct_integrated_gradients(model, image, baseline, target, steps):
    """Captum's riemann_trapezoid by hand, with an eager tape on the logit."""
    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    alphas = np.linspace(0, 1, steps, dtype=np.float32)
    weights = np.full(steps, 1 / steps, np.float32)
    weights[[0, -1]] /= 2
    path = tf.constant(baseline[None] + alphas[:, None, None, None] * (image - baseline)[None])
    with tf.GradientTape() as tape:
        tape.watch(path)
        scores = logits_model(path)[:, target]
    gradients = tape.gradient(scores, path).numpy()
    attribution = (image - baseline) * np.tensordot(weights, gradients, axes=1)
    gap = attribution.sum() - float(scores[-1] - scores[0])
    return attribution.sum(axis=-1), gap


@pytest.mark.parametrize("kind", ["black", "white"])
def test_integrated_gradients_equal_a_direct_tape_computation(cnn, images, kind):
    baselines = np.full_like(images, 0.0 if kind == "black" else 1.0)
    cam = GradCam(cnn, LAST_CONV, method="integrated-gradients")
    ours = cam.explain(images, relu=False, pixel=PixelOptions(steps=12), baselines=baselines)
    for row, target in enumerate(ours.targets):
        expected, gap = direct_integrated_gradients(cnn, images[row], baselines[row], target, 12)
        assert_close(ours.cams[row], expected)
        assert ours.gaps[row] == pytest.approx(gap, abs=1e-5)


def test_counterfactual_integrated_gradients_is_the_negated_map(cnn, images):
    cam = GradCam(cnn, LAST_CONV, method="integrated-gradients")
    plain = cam.explain(images, relu=False, pixel=PixelOptions(steps=4))
    negated = cam.explain(images, relu=False, counterfactual=True, pixel=PixelOptions(steps=4))
    np.testing.assert_allclose(negated.cams, -plain.cams, atol=1e-7)


def test_smoothgrad_seed_repeats_and_rows_do_not_depend_on_their_batch(cnn, images):
    cam = GradCam(cnn, LAST_CONV, method="smoothgrad")
    options = PixelOptions(samples=40, seed=3)  # 40 copies: one row per compiled call
    together = cam.explain(images, pixel=options)
    alone = cam.explain(images[2:3], pixel=options)
    np.testing.assert_allclose(together.cams[2], alone.cams[0], rtol=1e-5, atol=1e-9)
    other = cam.explain(images, pixel=PixelOptions(samples=40, seed=4))
    assert not np.allclose(together.cams, other.cams)


@pytest.mark.slow
def test_no_retrace_across_options_batches_and_targets(cnn, images):
    for method in ("saliency", "smoothgrad", "integrated-gradients", "guided-gradcam"):
        cam = GradCam(cnn, LAST_CONV, method=method)
        cam.explain(images[:1], pixel=PixelOptions(samples=2, steps=2, seed=1))
        cam.explain(
            images,
            [[0, 1], [2], [3], None],
            relu=False,
            score="output",
            pixel=PixelOptions(samples=9, noise=0.5, steps=40, seed=None),
        )
        assert cam.trace_count == 1, method


def test_all_zero_maps_are_zero_not_nan(images):
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(2, 3, kernel_initializer="zeros", activation="relu")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, kernel_initializer="zeros")(x))
    for method in (
        "saliency",
        "smoothgrad",
        "integrated-gradients",
        "guided-backprop",
        "guided-gradcam",
        "fullgrad",
    ):
        result = GradCam(model, method=method).explain(images[:2], score="output")
        assert np.all(result.heatmaps == 0), method


@pytest.mark.parametrize(
    ("method", "options", "detail"),
    [
        ("saliency", {"counterfactual": True}, "counterfactual"),
        ("smoothgrad", {"pixel": PixelOptions(samples=0)}, "samples"),
        ("integrated-gradients", {"pixel": PixelOptions(steps=65)}, "steps"),
        ("integrated-gradients", {"pixel": PixelOptions(baseline="grey")}, "baseline"),
    ],
)
def test_bad_options_are_invalid_input(cnn, images, method, options, detail):
    with pytest.raises(InvalidInput, match=detail):
        GradCam(cnn, LAST_CONV, method=method).explain(images, **options)


@pytest.mark.slow
def test_a_frozen_graph_gives_the_keras_maps(tmp_path):
    """Input gradients (and the guided override on imported ops) in the frozen capture."""
    model = sm.small_cnn()
    card = ModelCard(id="cnn", task="image", model_file="sm", image={"size": (16, 16)})
    frozen = load_saved_model(sm.export_keras3(model, tmp_path / "sm"), card)
    images = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    for method in ("saliency", "guided-backprop", "integrated-gradients", "guided-gradcam"):
        keras_maps = GradCam(model, "c2", method=method).explain(images, relu=False)
        frozen_maps = GradCam(frozen, "c2", method=method).explain(images, relu=False)
        assert_close(frozen_maps.cams, keras_maps.cams)
    with pytest.raises(InvalidInput, match="Keras layers"):
        GradCam(frozen, "c2", method="fullgrad")


def test_text_models_take_only_integrated_gradients():
    model = sm.small_text_model()
    with pytest.raises(InvalidInput, match="integrated-gradients"):
        GradCam(model, "conv", method="saliency")
    ids = np.random.default_rng(0).integers(1, 20, (2, 12)).astype(np.int32)
    result = GradCam(model, "conv", method="integrated-gradients").explain(ids)
    assert result.cams.shape == (2, 12) and result.gaps is not None


@pytest.mark.slow
def test_frozen_text_integrated_gradients_equal_the_keras_ones(tmp_path):
    model = sm.small_text_model()
    card = ModelCard(id="t", task="text", model_file="sm", text={"vocab_file": "vocab.txt"})
    frozen = load_saved_model(sm.export_keras3(model, tmp_path / "sm"), card)
    ids = np.random.default_rng(0).integers(1, 20, (2, 12)).astype(np.int32)
    keras_maps = GradCam(model, "conv", method="integrated-gradients").explain(ids, relu=False)
    frozen_maps = GradCam(frozen, "conv", method="integrated-gradients").explain(ids, relu=False)
    assert_close(frozen_maps.cams, keras_maps.cams)
    np.testing.assert_allclose(frozen_maps.gaps, keras_maps.gaps, atol=1e-6)
