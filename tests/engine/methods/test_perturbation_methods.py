"""Score-CAM and Ablation-CAM against direct Keras computations of their definitions."""

import keras
import numpy as np
import pytest

from app.engine.layers.graph import is_cut
from app.engine.runtime.gradcam import GradCam
from tests.engine import methods_reference as ref


def layers_after(model, name):
    names = [layer.name for layer in model.layers]
    return model.layers[names.index(name) + 1 :]


def run(layers, x):
    for layer in layers:
        x = layer(x)
    return np.asarray(x, dtype=np.float64)


def activations_of(model, name, inputs):
    return np.asarray(keras.Model(model.inputs, model.get_layer(name).output)(inputs), np.float64)


@pytest.mark.parametrize("max_channels", [8, 3])
def test_scorecam_image_equals_definition(deep_image_model, images, max_channels):
    targets = np.array([0, 2, 1, 2])
    result = GradCam(deep_image_model, "conv_b", method="scorecam").explain(
        images, [[int(t)] for t in targets], relu=False, score="output", max_channels=max_channels
    )
    a = activations_of(deep_image_model, "conv_b", images)
    channels = ref.top_channels(a, max_channels)

    def masked_score(b, maps):
        masks = ref.min_max(ref.upsample(maps.astype(np.float32), (16, 16)))
        outputs = np.asarray(deep_image_model(images[b] * masks[..., None]))
        return outputs[:, targets[b]].astype(np.float64)

    expected = ref.scorecam(a, channels, masked_score)
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-6)
    assert np.abs(expected).max() > 0


def test_scorecam_all_channels_equals_the_selected_path_when_all_are_selected(
    deep_image_model, images
):
    cam = GradCam(deep_image_model, "conv_b", method="scorecam")
    everything = cam.explain(images, [1], max_channels=8)
    capped = cam.explain(images, [1], max_channels=1000)  # clamped to the layer's 8
    fewer = cam.explain(images, [1], max_channels=4)
    np.testing.assert_allclose(capped.cams, everything.cams, rtol=1e-6)
    assert not np.allclose(fewer.cams, everything.cams)


def test_scorecam_text_masks_the_embedding_output(text_model, token_ids):
    targets = np.array([1, 0, 2])
    result = GradCam(text_model, "conv_t", method="scorecam").explain(
        token_ids, [[int(t)] for t in targets], relu=False, score="output", max_channels=4
    )
    a = activations_of(text_model, "conv_t", token_ids)
    embedded = np.asarray(text_model.get_layer("embed")(token_ids))
    channels = ref.top_channels(a, 4)

    def masked_score(b, maps):
        masks = ref.min_max(ref.upsample(maps.astype(np.float32), (12,)))
        outputs = run(layers_after(text_model, "embed"), embedded[b] * masks[..., None])
        return outputs[:, targets[b]]

    expected = ref.scorecam(a, channels, masked_score)
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("score", ["output", "logit"])
def test_ablationcam_equals_definition(deep_image_model, images, score):
    targets = np.array([2, 0, 1, 1])
    cam = GradCam(deep_image_model, "conv_b", method="ablationcam")
    result = cam.explain(
        images, [[int(t)] for t in targets], relu=False, score=score, max_channels=5
    )
    a = activations_of(deep_image_model, "conv_b", images)
    tail = layers_after(deep_image_model, "conv_b")
    channels = ref.top_channels(a, 5)

    def head(x):
        if score == "output":
            return run(tail, x)
        dense = tail[-1]
        hidden = run(tail[:-1], x)
        return hidden @ np.asarray(dense.kernel) + np.asarray(dense.bias)

    base = np.array([head(a[b : b + 1])[0, targets[b]] for b in range(4)])

    def ablated_score(b, k):
        ablated = a[b : b + 1].copy()
        ablated[..., k] = 0
        return head(ablated.astype(np.float32))[0, targets[b]]

    expected = ref.ablationcam(a, channels, base, ablated_score)
    assert cam.perturbation.suffix_only
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-6)


@pytest.fixture
def skip_model():
    keras.utils.set_random_seed(6)
    inputs = keras.Input((12, 12, 3))
    a = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inputs)
    b = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="conv_b")(a)
    x = keras.layers.Add(name="add")([a, b])
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def test_graph_cut_detection(skip_model, nested_model):
    assert not is_cut(skip_model, ("conv_b",))  # conv_a reaches `add` around it
    assert is_cut(skip_model, ("conv_a",))
    assert is_cut(skip_model, ("add",))
    assert is_cut(nested_model, ("base", "base_conv1"))


def test_ablationcam_around_a_skip_connection_replays_the_whole_model(skip_model, images):
    pixels = images[:, :12, :12]
    cam = GradCam(skip_model, "conv_b", method="ablationcam")
    assert not cam.perturbation.suffix_only
    result = cam.explain(pixels, [1], relu=False, score="output", max_channels=4)
    a = activations_of(skip_model, "conv_a", pixels)
    b = activations_of(skip_model, "conv_b", pixels)
    gap, head = skip_model.get_layer("gap"), skip_model.get_layer("head")

    def score(b_values):
        return run([gap, head], (a + b_values).astype(np.float32))[:, 1]

    base = score(b)

    def ablated_score(sample, k):
        ablated = b.copy()
        ablated[sample, ..., k] = 0
        return score(ablated)[sample]

    expected = ref.ablationcam(b, ref.top_channels(b, 4), base, ablated_score)
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-7)
    assert np.abs(expected).max() > 0
