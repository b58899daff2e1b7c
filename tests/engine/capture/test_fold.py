"""BatchNormalization folding: same maps and outputs, only the plain pattern folded."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.engine.capture.keras.fold import FoldPlan, plan_folding
from app.engine.layers.graph import replay
from app.engine.runtime.gradcam import GradCam

NO_FOLDING = FoldPlan({}, {})


def randomize_norms(model: keras.Model, seed: int = 0) -> keras.Model:
    """Moving statistics and affine weights far from the identity, so folding shows."""
    rng = np.random.default_rng(seed)
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            for variable in layer.weights:
                low, high = (0.2, 2.0) if "variance" in variable.path else (-1.0, 1.0)
                variable.assign(rng.uniform(low, high, variable.shape).astype("float32"))
    return model


def image_model(conv: keras.layers.Layer, *, norm: keras.layers.Layer | None = None):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((12, 12, 3))
    x = conv(inputs)
    x = (norm or keras.layers.BatchNormalization(name="norm"))(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, activation="softmax", name="predictions")(x)
    return randomize_norms(keras.Model(inputs, outputs))


def forward(model: keras.Model, x: np.ndarray, plan: FoldPlan) -> np.ndarray:
    return np.asarray(replay(model, tf.constant(x), ("relu",), lambda t: t, fold=plan))


def images(n: int = 3, size: int = 12) -> np.ndarray:
    return np.random.default_rng(5).uniform(-1, 1, (n, size, size, 3)).astype("float32")


FOLDABLE = {
    "conv": lambda: keras.layers.Conv2D(5, 3, use_bias=False, name="conv"),
    "conv with bias": lambda: keras.layers.Conv2D(5, 3, strides=2, padding="same", name="conv"),
    "depthwise": lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, name="conv"),
    "dilated": lambda: keras.layers.Conv2D(4, 3, dilation_rate=2, name="conv"),
}


@pytest.mark.parametrize("kind", list(FOLDABLE))
def test_folded_outputs_and_maps_equal_the_unfolded_ones(kind):
    model = image_model(FOLDABLE[kind]())
    plan = plan_folding(model)
    assert len(plan) == 1
    x = images()
    np.testing.assert_allclose(
        forward(model, x, plan), model.predict(x, verbose=0), rtol=1e-5, atol=1e-6
    )
    folded = GradCam(model, "relu", fold=plan).explain(x, [[0, 2]] * 3)
    plain = GradCam(model, "relu", fold=NO_FOLDING).explain(x, [[0, 2]] * 3)
    assert np.abs(plain.heatmaps).max() > 0.5  # a real map, not a degenerate one
    np.testing.assert_allclose(folded.heatmaps, plain.heatmaps, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(folded.predictions, plain.predictions, rtol=1e-5, atol=1e-6)


def test_norm_without_scale_or_center_and_dense_pairs_fold():
    keras.utils.set_random_seed(4)
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.Conv2D(6, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(scale=False, center=False)(x)
    x = keras.layers.ReLU(name="relu")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(8)(x)
    x = keras.layers.BatchNormalization()(x)
    outputs = keras.layers.Dense(3, activation="softmax")(x)
    model = randomize_norms(keras.Model(inputs, outputs))
    plan = plan_folding(model)
    assert len(plan) == 2
    x = images()
    folded = GradCam(model, "relu", fold=plan).explain(x)
    plain = GradCam(model, "relu", fold=NO_FOLDING).explain(x)
    np.testing.assert_allclose(folded.heatmaps, plain.heatmaps, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(folded.predictions, model.predict(x, verbose=0), rtol=1e-5)


NOT_FOLDABLE = {
    "activation before the norm": lambda: image_model(
        keras.layers.Conv2D(5, 3, activation="relu", name="conv")
    ),
    "grouped convolution": lambda: image_model(keras.layers.Conv2D(6, 3, groups=3, name="conv")),
    "norm over another axis": lambda: image_model(
        keras.layers.Conv2D(5, 3, name="conv"), norm=keras.layers.BatchNormalization(axis=1)
    ),
}


@pytest.mark.parametrize("kind", list(NOT_FOLDABLE))
def test_other_patterns_are_left_as_they_are(kind):
    assert len(plan_folding(NOT_FOLDABLE[kind]())) == 0


def test_a_convolution_whose_output_is_used_twice_or_returned_is_not_folded():
    inputs = keras.Input((12, 12, 3))
    conv = keras.layers.Conv2D(4, 3)(inputs)
    branch = keras.layers.Add()([keras.layers.BatchNormalization()(conv), conv])
    assert len(plan_folding(keras.Model(inputs, branch))) == 0
    conv_b = keras.layers.Conv2D(4, 3)(inputs)
    both = [keras.layers.BatchNormalization()(conv_b), conv_b]
    assert len(plan_folding(keras.Model(inputs, both))) == 0


def test_a_shared_convolution_is_not_folded():
    shared = keras.layers.Conv2D(4, 3)
    a, b = keras.Input((12, 12, 3)), keras.Input((12, 12, 3))
    outputs = [keras.layers.BatchNormalization()(shared(a)), shared(b)]
    assert len(plan_folding(keras.Model([a, b], outputs))) == 0


def test_explaining_the_convolution_of_a_pair_keeps_that_pair():
    model = image_model(FOLDABLE["conv with bias"]())
    x = images()
    at_conv = GradCam(model, "conv", fold=plan_folding(model)).explain(x)
    plain = GradCam(model, "conv", fold=NO_FOLDING).explain(x)
    # Folded, the captured "conv" output would be the norm's: a different map.
    np.testing.assert_allclose(at_conv.cams, plain.cams, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(at_conv.heatmaps, plain.heatmaps, rtol=1e-4, atol=1e-5)


def test_pairs_inside_a_nested_base_fold_and_give_the_same_maps():
    keras.utils.set_random_seed(6)
    base_in = keras.Input((12, 12, 3))
    y = keras.layers.DepthwiseConv2D(3, name="dw")(base_in)
    y = keras.layers.BatchNormalization(name="dw_norm")(y)
    y = keras.layers.ReLU(name="inner_relu")(y)
    base = keras.Model(base_in, y, name="base")
    base.trainable = False  # a frozen base, as in transfer learning
    inputs = keras.Input((12, 12, 3))
    x = keras.layers.GlobalAveragePooling2D()(base(inputs))
    model = randomize_norms(keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x)))
    plan = plan_folding(model)
    assert len(plan) == 1
    x = images()
    folded = GradCam(model, "base/inner_relu", fold=plan).explain(x)
    plain = GradCam(model, "base/inner_relu", fold=NO_FOLDING).explain(x)
    assert np.abs(plain.heatmaps).max() > 0.5
    np.testing.assert_allclose(folded.heatmaps, plain.heatmaps, rtol=1e-4, atol=1e-5)


def test_planning_never_changes_the_model():
    model = image_model(FOLDABLE["depthwise"]())
    before = [w.copy() for w in model.get_weights()]
    x = images()
    predicted = model.predict(x, verbose=0)
    GradCam(model, "relu").explain(x)
    for old, new in zip(before, model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(model.predict(x, verbose=0), predicted)


def test_subclassed_layers_are_not_folded():
    class ScaledConv(keras.layers.Conv2D):
        def call(self, inputs):
            return super().call(inputs) * 2.0

    class ShiftedNorm(keras.layers.BatchNormalization):
        def call(self, inputs, training=None):
            return super().call(inputs, training=training) + 1.0

    assert len(plan_folding(image_model(ScaledConv(4, 3, name="conv")))) == 0
    norm = ShiftedNorm(name="norm")
    assert len(plan_folding(image_model(keras.layers.Conv2D(4, 3, name="conv"), norm=norm))) == 0
