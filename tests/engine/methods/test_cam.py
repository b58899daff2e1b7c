"""CAM math on hand-computed tensors."""

import numpy as np
import pytest
import tensorflow as tf

from app.engine.methods import cam


def run(activations, gradients, relu=True, counterfactual=False):
    raw = cam.gradcam_map(
        tf.constant(activations, tf.float32),
        tf.constant(gradients, tf.float32),
        tf.constant(relu),
        tf.constant(counterfactual),
    )
    return raw.numpy()


def test_channel_weights_average_every_spatial_axis():
    grads = np.arange(2 * 2 * 3 * 2, dtype=np.float32).reshape(2, 2, 3, 2)
    weights = cam.channel_weights(tf.constant(grads)).numpy()
    np.testing.assert_allclose(weights, grads.mean(axis=(1, 2)))


def test_image_map_by_hand():
    # One sample, 1x2 map, two channels.
    activations = [[[[1.0, 2.0], [3.0, 4.0]]]]
    gradients = [[[[1.0, -1.0], [3.0, -3.0]]]]  # weights: mean -> [2, -2]
    # cam = 2*A0 - 2*A1 = [2-4, 6-8] = [-2, -2] -> relu -> 0
    np.testing.assert_allclose(run(activations, gradients), [[[0.0, 0.0]]])
    np.testing.assert_allclose(run(activations, gradients, relu=False), [[[-2.0, -2.0]]])
    # counterfactual negates the gradients: [2, 2]
    np.testing.assert_allclose(run(activations, gradients, counterfactual=True), [[[2.0, 2.0]]])


def test_text_map_shares_the_code_path():
    activations = [[[1.0, 0.0], [0.0, 1.0], [2.0, 2.0]]]  # (1, T=3, C=2)
    gradients = [[[3.0, 0.0], [0.0, 0.0], [0.0, -3.0]]]  # weights [1, -1]
    np.testing.assert_allclose(run(activations, gradients, relu=False), [[1.0, -1.0, 0.0]])
    np.testing.assert_allclose(run(activations, gradients), [[1.0, 0.0, 0.0]])


def test_all_zero_activations_give_zero_maps_without_nan():
    raw = run(np.zeros((2, 3, 3, 4)), np.ones((2, 3, 3, 4)))
    heat, scale = cam.normalise(tf.constant(raw))
    assert not np.isnan(heat.numpy()).any()
    np.testing.assert_array_equal(heat.numpy(), 0.0)
    np.testing.assert_array_equal(scale.numpy(), [0.0, 0.0])


def test_all_one_activations_and_gradients_normalise_to_one():
    raw = run(np.ones((1, 4, 4, 3)), np.ones((1, 4, 4, 3)))
    np.testing.assert_allclose(raw, 3.0)
    heat, scale = cam.normalise(tf.constant(raw))
    np.testing.assert_allclose(heat.numpy(), 1.0, atol=1e-6)
    assert scale.numpy()[0] == pytest.approx(3.0)


def test_normalise_signed_maps_by_max_abs_and_recovers_raw_values():
    raw = np.array([[0.5, -2.0, 1.0], [0.0, 0.25, 0.1]], dtype=np.float32)
    heat, scale = cam.normalise(tf.constant(raw))
    np.testing.assert_allclose(scale.numpy(), [2.0, 0.25])
    np.testing.assert_allclose(heat.numpy()[0], [0.25, -1.0, 0.5], atol=1e-6)
    recovered = heat.numpy() * (scale.numpy()[:, None] + cam.EPSILON)
    np.testing.assert_allclose(recovered, raw, atol=1e-6)
