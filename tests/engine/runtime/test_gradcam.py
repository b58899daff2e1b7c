"""The compiled Grad-CAM against an eager tape computed independently."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput


def eager_gradcam(split, inputs, targets, use_logit=True):
    """Reference: `split(x) -> (activations, head(activations))` under an eager tape."""
    activations = split[0](inputs)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        logits = split[1](activations)
        scores = tf.gather(logits, targets, axis=1, batch_dims=1)
    grads = tape.gradient(scores, activations).numpy()
    weights = grads.mean(axis=tuple(range(1, grads.ndim - 1)))
    cam = np.einsum("b...c,bc->b...", activations.numpy(), weights)
    return np.maximum(cam, 0)


def logits_head(model, after):
    """Layers after `after` of a flat model, ending in the last Dense's pre-activation."""
    names = [layer.name for layer in model.layers]
    tail = model.layers[names.index(after) + 1 :]

    def head(x):
        for layer in tail[:-1]:
            x = layer(x)
        return tf.matmul(x, tail[-1].kernel) + tail[-1].bias

    return head


def test_matches_eager_reference_for_several_targets(image_model, images):
    gradcam = GradCam(image_model)
    assert gradcam.layer.name == "conv_b"  # ELI5 rule: last rank-4 layer
    result = gradcam.explain(images, [0, 2])
    assert result.sample.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
    assert result.targets.tolist() == [0, 2] * 4
    body = keras.Model(image_model.inputs, image_model.get_layer("conv_b").output)
    expected = eager_gradcam(
        (body, logits_head(image_model, "conv_b")), images[result.sample], result.targets
    )
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-6)
    predictions = image_model.predict(images, verbose=0)
    np.testing.assert_allclose(result.predictions, predictions, rtol=1e-5)
    np.testing.assert_allclose(result.scores, predictions[result.sample, result.targets], rtol=1e-5)


def test_top_prediction_when_no_targets(image_model, images):
    result = GradCam(image_model).explain(images)
    top = image_model.predict(images, verbose=0).argmax(axis=1)
    assert result.targets.tolist() == top.tolist()
    assert result.sample.tolist() == [0, 1, 2, 3]


def test_per_sample_target_lists(image_model, images):
    result = GradCam(image_model).explain(images[:2], [[1], [0, 2]])
    assert result.sample.tolist() == [0, 1, 1]
    assert result.targets.tolist() == [1, 0, 2]


def test_heatmaps_are_normalised_with_scale(image_model, images):
    result = GradCam(image_model).explain(images, relu=False)
    peak = np.abs(result.cams).reshape(len(result.cams), -1).max(axis=1)
    np.testing.assert_allclose(result.scales, peak, rtol=1e-6)
    np.testing.assert_allclose(
        result.heatmaps * (peak[:, None, None] + 1e-7), result.cams, atol=1e-6
    )
    assert np.abs(result.heatmaps).max() <= 1.0


def test_counterfactual_negates_the_unrectified_map(image_model, images):
    gradcam = GradCam(image_model)
    plain = gradcam.explain(images, [1], relu=False)
    flipped = gradcam.explain(images, [1], relu=False, counterfactual=True)
    np.testing.assert_allclose(flipped.cams, -plain.cams, atol=1e-7)


def test_output_score_differentiates_the_softmax(image_model, images):
    result = GradCam(image_model).explain(images, [1], score="output")
    body = keras.Model(image_model.inputs, image_model.get_layer("conv_b").output)
    tail = [image_model.get_layer("gap"), image_model.get_layer("predictions")]
    expected = eager_gradcam(
        (body, lambda x: tail[1](tail[0](x))), images, np.ones(4, dtype=np.int32)
    )
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-7)


def test_no_retrace_across_targets_batches_and_options(image_model, images):
    gradcam = GradCam(image_model)
    gradcam.explain(images[:1])
    assert gradcam.trace_count == 1
    gradcam.explain(images, [0, 1, 2], relu=False, counterfactual=True, score="output")
    gradcam.explain(images[:3], [[2], [1], [0, 1]])
    gradcam.explain(np.concatenate([images] * 3), None, score="logit")
    assert gradcam.trace_count == 1


def test_nested_model_automatic_layer_is_inside_the_base(nested_model, images):
    gradcam = GradCam(nested_model)
    assert gradcam.layer.path == ("base", "base_conv2")
    result = gradcam.explain(images, [2])
    assert result.cams.shape == (4, 12, 12)
    assert result.scales.min() > 0  # a frozen base still gets gradients


def test_named_inner_layer_of_nested_model(nested_model, images):
    gradcam = GradCam(nested_model, "base_conv1")
    assert gradcam.layer.name == "base/base_conv1"
    result = gradcam.explain(images, [0])
    base = nested_model.get_layer("base")
    body = keras.Model(base.inputs, base.get_layer("base_conv1").output)
    conv2, gap, head = (
        base.get_layer("base_conv2"),
        nested_model.get_layer("gap"),
        nested_model.get_layer("head"),
    )

    def rest(x):
        return tf.matmul(gap(conv2(x)), head.kernel) + head.bias

    expected = eager_gradcam((body, rest), images, np.zeros(4, dtype=np.int32))
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-7)


def test_derived_model_approach_fails_where_ours_works(nested_model):
    """Why the engine replays the graph: the usual derived model cannot be built."""
    inner = nested_model.get_layer("base").get_layer("base_conv1")
    with pytest.raises(ValueError, match=r"(?i)disconnected|not connected|not reachable"):
        keras.Model(nested_model.inputs, [inner.output, nested_model.output])


def test_served_model_is_not_modified(nested_model, images):
    config = nested_model.to_json()
    weights = [w.copy() for w in nested_model.get_weights()]
    before = nested_model.predict(images, verbose=0)
    GradCam(nested_model, "base/base_conv1").explain(images, [0, 1], counterfactual=True)
    assert nested_model.to_json() == config
    for old, new in zip(weights, nested_model.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
    np.testing.assert_array_equal(nested_model.predict(images, verbose=0), before)


@pytest.mark.parametrize(
    ("targets", "message"),
    [
        ([3], r"target 3 is out of range \[0, 3\) for model tiny_image"),
        ([-1], r"out of range"),
        ([], "must not be empty"),
        ([1.5], "not an integer"),
        ([True], "not an integer"),
        ([[0], [1]], "target lists for 2 samples but there are 4"),
    ],
)
def test_bad_targets_are_clear_errors(image_model, images, targets, message):
    with pytest.raises(InvalidInput, match=message):
        GradCam(image_model).explain(images, targets)


def test_unknown_score_mode_is_an_error(image_model, images):
    with pytest.raises(InvalidInput, match="score must be one of"):
        GradCam(image_model).explain(images, score="proba")


def test_logit_needs_a_separable_last_layer(images):
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(3, 3)(inputs)
    outputs = keras.layers.GlobalMaxPooling2D()(x)
    gradcam = GradCam(keras.Model(inputs, outputs), layer=1)
    assert not gradcam.supports_logit
    with pytest.raises(InvalidInput, match="use score 'output'"):
        gradcam.explain(images)
    assert gradcam.explain(images, score="output").cams.shape == (4, 14, 14)


def test_per_sample_none_means_top_prediction(image_model, images):
    result = GradCam(image_model).explain(images[:3], [None, [0, 1], None])
    top = image_model.predict(images[:3], verbose=0).argmax(axis=1)
    assert result.sample.tolist() == [0, 1, 1, 2]
    assert result.targets.tolist() == [top[0], 0, 1, top[2]]


def test_samples_slice_renumbers_rows(image_model, images):
    result = GradCam(image_model).explain(images, [[0], [1, 2], [0], [2]])
    part = result.samples(1, 3)
    assert part.sample.tolist() == [0, 0, 1]
    assert part.targets.tolist() == [1, 2, 0]
    np.testing.assert_array_equal(part.predictions, result.predictions[1:3])
    np.testing.assert_array_equal(part.heatmaps, result.heatmaps[1:4])
