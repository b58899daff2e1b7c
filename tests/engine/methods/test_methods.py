"""Every CAM method against an independent numpy implementation of its definition."""

import numpy as np
import pytest

from app.engine.methods import CAM_METHOD_NAMES
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from tests.engine.methods_reference import GRADIENT_METHODS, capture

TARGETS = np.array([0, 2, 1, 2], dtype=np.int32)


@pytest.mark.parametrize("method", list(GRADIENT_METHODS))
def test_image_map_equals_numpy_formula(deep_image_model, images, method):
    cam = GradCam(deep_image_model, "conv_a", method=method)
    result = cam.explain(images, [[int(t)] for t in TARGETS], relu=False)
    activations, gradients = capture(deep_image_model, "conv_a", images, TARGETS)
    expected = GRADIENT_METHODS[method](activations, gradients)
    assert np.abs(expected).max() > 1e-6  # not a comparison of empty maps
    np.testing.assert_allclose(result.cams, expected, rtol=2e-3, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("method", list(GRADIENT_METHODS))
def test_text_map_equals_numpy_formula(text_model, token_ids, method):
    cam = GradCam(text_model, "conv_t", method=method)
    targets = np.array([1, 0, 2], dtype=np.int32)
    result = cam.explain(token_ids, [[int(t)] for t in targets], relu=False)
    activations, gradients = capture(text_model, "conv_t", token_ids, targets)
    expected = GRADIENT_METHODS[method](activations, gradients)
    assert np.abs(expected).max() > 1e-6
    np.testing.assert_allclose(result.cams, expected, rtol=2e-3, atol=1e-6 * np.abs(expected).max())


def test_hirescam_equals_gradcam_before_global_average_pooling(image_model, images):
    """conv_b feeds GlobalAveragePooling + Dense: its gradient is constant over positions."""
    gradcam = GradCam(image_model, "conv_b").explain(images, [0, 1, 2], relu=False)
    hires = GradCam(image_model, "conv_b", method="hirescam").explain(images, [0, 1, 2], relu=False)
    # Grad-CAM's weight is the mean gradient; HiRes-CAM's map sums g * A. With the
    # gradient g / (positions) per position, hirescam = gradcam exactly.
    np.testing.assert_allclose(hires.cams, gradcam.cams, rtol=1e-5, atol=1e-9)
    assert np.abs(gradcam.cams).max() > 0


def test_eigencam_is_the_same_for_every_target(image_model, images):
    result = GradCam(image_model, method="eigencam").explain(images, [0, 1, 2])
    maps = result.cams.reshape(4, 3, *result.cams.shape[1:])
    for target in (1, 2):
        np.testing.assert_array_equal(maps[:, target], maps[:, 0])
    assert maps.max() > 0


@pytest.mark.parametrize("method", CAM_METHOD_NAMES)
def test_multi_target_and_batched_requests_equal_single_ones(deep_image_model, images, method):
    cam = GradCam(deep_image_model, "conv_b", method=method)
    together = cam.explain(images, [0, 2], max_channels=5)
    for sample in range(len(images)):
        for column, target in enumerate((0, 2)):
            alone = cam.explain(images[sample : sample + 1], [target], max_channels=5)
            row = 2 * sample + column
            np.testing.assert_allclose(together.cams[row], alone.cams[0], rtol=1e-4, atol=1e-6)
            assert together.targets[row] == target


@pytest.mark.parametrize("method", CAM_METHOD_NAMES)
def test_no_retrace_across_requests(deep_image_model, images, method):
    cam = GradCam(deep_image_model, "conv_b", method=method)
    cam.explain(images[:1])
    first = cam.trace_count
    assert 1 <= first <= 2  # perturbation methods: capture + chunk
    cam.explain(images, [0, 1, 2], relu=False, score="output", max_channels=3)
    cam.explain(images[:3], [[2], [1], [0, 1]], max_channels=8)
    cam.explain(np.concatenate([images] * 3), None, max_channels=1)
    assert cam.trace_count == first


@pytest.mark.parametrize("method", CAM_METHOD_NAMES)
def test_every_method_on_a_nested_model(nested_model, images, method):
    cam = GradCam(nested_model, method=method)
    assert cam.layer.path == ("base", "base_conv2")
    result = cam.explain(images, [0, 2])
    assert result.cams.shape == (8, 12, 12)
    assert np.isfinite(result.heatmaps).all()
    assert result.scales.max() > 0


@pytest.mark.parametrize("method", ["eigencam", "scorecam", "ablationcam"])
def test_counterfactual_needs_gradients(image_model, images, method):
    with pytest.raises(InvalidInput, match="counterfactual"):
        GradCam(image_model, method=method).explain(images, counterfactual=True)


def test_unknown_method_and_bad_max_channels_are_errors(image_model, images):
    with pytest.raises(InvalidInput, match="method must be one of"):
        GradCam(image_model, method="nope")
    with pytest.raises(InvalidInput, match="max_channels"):
        GradCam(image_model, method="scorecam").explain(images, max_channels=0)
