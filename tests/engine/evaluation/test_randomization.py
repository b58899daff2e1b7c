"""Cascading randomisation: its layer order, initializers, seeds, the copy, the verdict,
and the random other class as Quantus 0.6 draws it."""

import keras
import numpy as np

from app.engine.evaluation.randomization import (
    Step,
    cascade,
    cascade_layers,
    model_copy,
    other_classes,
    passed,
    reinitialise,
)


def bn_model() -> keras.Model:
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.DepthwiseConv2D(3, name="depthwise")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, name="head")(x)
    model = keras.Model(inputs, outputs)
    bn = model.get_layer("bn")
    bn.set_weights([np.full(4, 2.0), np.full(4, 0.5), np.full(4, 0.3), np.full(4, 4.0)])
    return model


def test_the_copy_is_equal_and_separate():
    model = bn_model()
    before = [w.copy() for w in model.get_weights()]
    copy = model_copy(model)
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(copy(x)), np.asarray(model(x)))
    for layer in cascade_layers(copy):
        reinitialise(layer, 3)
    for old, now in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, now)


def test_layers_top_down_and_own_initializers():
    copy = model_copy(bn_model())
    assert [layer.name for layer in cascade_layers(copy)] == ["head", "depthwise", "bn", "conv"]
    reinitialise(copy.get_layer("bn"), 0)
    gamma, beta, mean, variance = copy.get_layer("bn").get_weights()
    assert np.all(gamma == 1) and np.all(beta == 0) and np.all(mean == 0) and np.all(variance == 1)
    reinitialise(copy.get_layer("head"), 0)
    kernel, bias = copy.get_layer("head").get_weights()
    limit = np.sqrt(6 / (4 + 3))  # glorot_uniform, the Dense default
    assert np.all(np.abs(kernel) <= limit) and np.all(bias == 0)


def test_seeded_draws_repeat():
    first, second = model_copy(bn_model()), model_copy(bn_model())
    reinitialise(first.get_layer("depthwise"), 7)
    reinitialise(second.get_layer("depthwise"), 7)
    np.testing.assert_array_equal(
        first.get_layer("depthwise").get_weights()[0],
        second.get_layer("depthwise").get_weights()[0],
    )


def test_cascade_compares_each_step_with_the_original():
    model = bn_model()
    copy = model_copy(model)
    x = np.random.default_rng(1).random((3, 8, 8, 3)).astype(np.float32)
    original = np.asarray(model(x))  # any per-instance array stands in for a map here
    steps = list(cascade(copy, original, lambda: np.asarray(copy(x)), seed=0))
    assert [s.layer for s in steps] == ["head", "depthwise", "bn", "conv"]
    assert all(-1 <= s.spearman <= 1 and -1 <= s.ssim <= 1 for s in steps)
    assert steps[0].spearman < 1.0  # the head re-drawn changes the outputs


def test_verdict_reads_the_final_spearman():
    assert passed([Step("a", 0.9, 0.9), Step("b", 0.49, 0.1)])
    assert not passed([Step("a", 0.1, 0.1), Step("b", 0.5, 0.1)])
    assert not passed([])


def test_other_classes_as_quantus_draws_them():
    labels = np.array([0, 3, 9, 5, 5, 1, 7])
    ours = other_classes(labels, 10, seed=42)
    assert np.all(ours != labels) and np.all((ours >= 0) & (ours < 10))
    np.random.seed(42)  # Quantus RandomLogit.evaluate_batch's own steps
    classes = np.stack([np.arange(10)] * len(labels))
    keep = np.ones_like(classes)
    keep[np.arange(len(labels)), labels] = 0
    picks = np.random.randint(0, 9, len(labels))
    theirs = classes[keep.astype(bool)].reshape(len(labels), -1)[np.arange(len(labels)), picks]
    np.testing.assert_array_equal(ours, theirs)


def test_a_slice_draws_the_classes_the_whole_set_draws():
    labels = np.array([0, 1, 2, 3, 0, 1, 2, 3, 1])
    whole = other_classes(labels, 4, seed=7)
    np.testing.assert_array_equal(other_classes(labels[5:], 4, seed=7, offset=5), whole[5:])
