"""The pixel-level methods against pytorch-grad-cam 1.5.7 and Captum 0.9 on twin networks.

CI has no torch: `bench/pixel_method_references.py` computed the reference maps in a
torch venv on `bench/oracle_cnn.py` and `bench/oracle_text.py` and stored them with the
weights in `tests/data/pixel_methods_reference.npz` (its docstring says how to
regenerate it). Here the Keras twins are built from those weights. Score: the logit of
each input's top class; maps compared raw (relu off), relative to their largest value.
"""

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.methods.pixel.options import PixelOptions
from app.engine.runtime.gradcam import GradCam
from bench.oracle_cnn import LAST_CONV, keras_model
from bench.oracle_text import keras_text_model

REFERENCE = Path(__file__).resolve().parents[2] / "data" / "pixel_methods_reference.npz"
TOLERANCE = 1e-5  # of the reference map's largest |value|: float32 rounding


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE) as stored:
        return {name: stored[name] for name in stored.files}


@pytest.fixture(scope="module")
def cnn(reference) -> keras.Model:
    return keras_model({k[4:]: v for k, v in reference.items() if k.startswith("cnn/")})


def explain(model, reference, method, **options):
    targets = [[int(t)] for t in reference["targets"]]
    cam = GradCam(model, LAST_CONV, method=method)
    return cam.explain(reference["images"], targets, relu=False, **options)


def assert_close(ours: np.ndarray, theirs: np.ndarray) -> None:
    scale = float(np.abs(theirs).max())
    assert scale > 0  # not a comparison of empty maps
    np.testing.assert_allclose(ours, theirs, atol=TOLERANCE * scale, rtol=0)


def test_saliency_equals_captum_saliency(cnn, reference):
    ours = explain(cnn, reference, "saliency")
    np.testing.assert_array_equal(ours.targets, reference["targets"])
    assert_close(ours.cams, reference["captum_saliency"].max(axis=-1))


def test_integrated_gradients_and_gap_equal_captum(cnn, reference):
    ours = explain(cnn, reference, "integrated-gradients", pixel=PixelOptions(steps=32))
    assert_close(ours.cams, reference["captum_integrated_gradients"].sum(axis=-1))
    assert ours.gaps is not None
    np.testing.assert_allclose(ours.gaps, reference["captum_ig_delta"], atol=1e-6)


def test_guided_backprop_equals_pytorch_grad_cam_and_captum(cnn, reference):
    ours = explain(cnn, reference, "guided-backprop")
    assert_close(ours.cams, np.abs(reference["gradcam_guided_backprop"]).max(axis=-1))
    assert_close(ours.cams, np.abs(reference["captum_guided_backprop"]).max(axis=-1))
    plain = explain(cnn, reference, "saliency")
    assert np.abs(ours.cams - plain.cams).max() > 0.1 * ours.cams.max()  # the rule acts


def test_guided_gradcam_equals_pytorch_grad_cams_composition(cnn, reference):
    """pytorch-grad-cam's example: guided backprop x its GradCAM map (at the input size)."""
    ours = explain(cnn, reference, "guided-gradcam")
    product = reference["gradcam_guided_backprop"] * reference["gradcam_gradcam"][..., None]
    assert_close(ours.cams, np.abs(product).max(axis=-1))


def test_captums_guided_gradcam_is_our_gradcam_upsampled_nearest(cnn, reference):
    """Captum's `GuidedGradCam` multiplies by the layer's Grad-CAM after relu, not
    normalised, upsampled nearest: with the service's Grad-CAM it is the same."""
    targets = [[int(t)] for t in reference["targets"]]
    cam = GradCam(cnn, LAST_CONV).explain(reference["images"], targets).cams  # (4, 16, 16)
    nearest = cam.repeat(2, axis=1).repeat(2, axis=2)
    expected = reference["captum_guided_backprop"] * nearest[..., None]
    assert_close(expected, reference["captum_guided_gradcam"])


def test_fullgrad_equals_pytorch_grad_cam(cnn, reference):
    ours = explain(cnn, reference, "fullgrad")
    assert_close(ours.cams, reference["gradcam_fullgrad"])


def test_text_integrated_gradients_equal_captums_layer_ig(reference):
    model = keras_text_model({k[5:]: v for k, v in reference.items() if k.startswith("text/")})
    targets = [[int(t)] for t in reference["text_targets"]]
    cam = GradCam(model, "conv", method="integrated-gradients")
    ours = cam.explain(reference["text_ids"], targets, relu=False)
    assert_close(ours.cams, reference["captum_layer_ig"].sum(axis=-1))
    assert ours.gaps is not None
    np.testing.assert_allclose(ours.gaps, reference["captum_layer_ig_delta"], atol=1e-6)
