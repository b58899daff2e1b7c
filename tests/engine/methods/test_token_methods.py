"""Every method on token layers against numpy on the reshaped tokens, and the two
attention methods against Keras' own attention probabilities (`return_attention_scores`)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.engine.methods import METHOD_NAMES, model_methods
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from tests.engine import methods_reference as ref
from tests.engine.conftest import round_trip
from tests.engine.vit_models import (
    as_grid,
    attention_reference,
    blocks_from,
    embedding,
    tiny_vit,
    token_capture,
)

TARGETS = np.array([0, 2, 1], dtype=np.int32)
SIZE = (16, 24)  # a 4x6 patch grid


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return round_trip(tiny_vit(SIZE, prefix=2), tmp_path_factory.mktemp("vit"))


@pytest.fixture(scope="module")
def pixels():
    return np.random.default_rng(7).random((3, *SIZE, 3)).astype(np.float32)


@pytest.mark.parametrize("layer", ["b1_norm1", "b2_norm1", "tokens"])
@pytest.mark.parametrize("method", list(ref.GRADIENT_METHODS))
def test_gradient_methods_on_tokens_equal_numpy(vit, pixels, layer, method):
    result = GradCam(vit, layer, method=method).explain(
        pixels, [[int(t)] for t in TARGETS], relu=False
    )
    tokens, gradients = token_capture(vit, layer, pixels, TARGETS)
    expected = ref.GRADIENT_METHODS[method](as_grid(tokens, 2, 4, 6), as_grid(gradients, 2, 4, 6))
    assert result.cams.shape == (3, 4, 6)
    assert np.abs(expected).max() > 1e-6
    np.testing.assert_allclose(result.cams, expected, rtol=2e-3, atol=1e-5 * np.abs(expected).max())


def test_scorecam_on_tokens_equals_definition(vit, pixels):
    result = GradCam(vit, "b2_norm1", method="scorecam").explain(
        pixels, [[int(t)] for t in TARGETS], relu=False, score="output", max_channels=5
    )
    tokens, _ = token_capture(vit, "b2_norm1", pixels, TARGETS)
    a = as_grid(tokens, 2, 4, 6)
    channels = ref.top_channels(a, 5)

    def masked_score(b, maps):
        masks = ref.min_max(ref.upsample(maps.astype(np.float32), SIZE))
        return np.asarray(vit(pixels[b] * masks[..., None]))[:, TARGETS[b]].astype(np.float64)

    expected = ref.scorecam(a, channels, masked_score)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(result.cams, expected, rtol=1e-4, atol=1e-6)


def test_ablationcam_on_a_cut_token_layer_keeps_prefix_tokens(vit, pixels):
    """`tokens` is a cut: Ablation-CAM zeroes a channel of the patch tokens only and runs
    the blocks on them; the reference runs Keras' blocks eagerly on the same tokens."""
    result = GradCam(vit, "tokens", method="ablationcam").explain(
        pixels, [[int(t)] for t in TARGETS], relu=False, max_channels=4
    )
    tokens = embedding(vit, pixels, 2).numpy()
    a = as_grid(tokens.astype(np.float64), 2, 4, 6)
    channels = ref.top_channels(a, 4)
    base, _ = blocks_from(vit, tf.constant(tokens), 2, 2)

    def ablated_score(b, k):
        changed = tokens[b : b + 1].copy()
        changed[:, 2:, k] = 0.0
        logits, _ = blocks_from(vit, tf.constant(changed), 2, 2)
        return float(logits[0, TARGETS[b]])

    scores = base.numpy()[np.arange(3), TARGETS]
    expected = ref.ablationcam(a, channels, scores, ablated_score)
    assert np.abs(expected).max() > 0
    np.testing.assert_allclose(result.cams, expected, rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("method", ["scorecam", "ablationcam"])
def test_perturbation_on_tokens_matches_batched_and_single(vit, pixels, method):
    """A non-cut token layer (b2_norm1 has a residual around it) runs the whole model."""
    cam = GradCam(vit, "b2_norm1", method=method)
    together = cam.explain(pixels, [[int(t)] for t in TARGETS], max_channels=4)
    alone = cam.explain(pixels[1:2], [int(TARGETS[1])], max_channels=4)
    np.testing.assert_allclose(together.cams[1], alone.cams[0], rtol=1e-4, atol=1e-6)
    assert together.cams.shape == (3, 4, 6) and together.cams.max() > 0


def numpy_rollout(probabilities):
    relevance = np.eye(probabilities[0].shape[-1])[None]
    for a in probabilities:
        mixed = a.mean(axis=1) + np.eye(a.shape[-1])
        mixed /= mixed.sum(axis=-1, keepdims=True)
        relevance = mixed @ relevance
    return relevance


def numpy_chefer(probabilities, gradients):
    relevance = np.eye(probabilities[0].shape[-1])[None]
    for a, g in zip(probabilities, gradients, strict=True):
        relevance = relevance + np.maximum(g * a, 0).mean(axis=1) @ relevance
    return relevance


def class_row(relevance, prefix, height, width):
    row = relevance[:, 0, :] if prefix else relevance.mean(axis=1)
    return row[:, prefix:].reshape(len(row), height, width)


@pytest.mark.parametrize(("prefix", "blocks"), [(1, 3), (2, 2), (0, 2)])
def test_attention_methods_equal_numpy_from_keras_attention(tmp_path, pixels, prefix, blocks):
    model = round_trip(tiny_vit(SIZE, prefix=prefix, blocks=blocks, seed=prefix), tmp_path)
    probabilities, gradients, predictions = attention_reference(
        model, pixels, TARGETS, blocks, prefix
    )
    targets = [[int(t)] for t in TARGETS]
    rollout = GradCam(model, method="attention-rollout").explain(pixels, targets, relu=False)
    chefer = GradCam(model, method="attention-gradcam").explain(pixels, targets, relu=False)
    np.testing.assert_allclose(rollout.predictions, predictions, atol=1e-5)
    expected_rollout = class_row(numpy_rollout(probabilities), prefix, 4, 6)
    expected_chefer = class_row(numpy_chefer(probabilities, gradients), prefix, 4, 6)
    assert expected_chefer.max() > 0 and rollout.cams.shape == (3, 4, 6)
    np.testing.assert_allclose(rollout.cams, expected_rollout, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(chefer.cams, expected_chefer, rtol=1e-3, atol=1e-6)


def test_attention_gradcam_depends_on_the_target_and_rollout_does_not(vit, pixels):
    rollout = GradCam(vit, method="attention-rollout").explain(pixels, [0, 1]).cams
    chefer = GradCam(vit, method="attention-gradcam").explain(pixels, [0, 1]).cams
    np.testing.assert_allclose(rollout[0::2], rollout[1::2], rtol=1e-5)  # batch rounding
    assert np.abs(chefer[0::2] - chefer[1::2]).max() > 1e-6


def test_attention_methods_refused_without_multi_head_attention(image_model):
    assert "attention-rollout" not in model_methods(image_model)
    assert set(model_methods(image_model)) | {"attention-rollout", "attention-gradcam"} == set(
        METHOD_NAMES
    )
    for method in ("attention-rollout", "attention-gradcam"):
        with pytest.raises(InvalidInput, match="MultiHeadAttention"):
            GradCam(image_model, method=method)


def test_attention_pass_leaves_the_model_unchanged(vit, pixels):
    weights = [w.copy() for w in vit.get_weights()]
    before = np.asarray(vit(pixels))
    GradCam(vit, method="attention-gradcam").explain(pixels)
    np.testing.assert_array_equal(np.asarray(vit(pixels)), before)
    assert all(np.array_equal(a, b) for a, b in zip(weights, vit.get_weights(), strict=True))
    assert len(vit.layers) == len(keras.Model(vit.inputs, vit.outputs).layers)
