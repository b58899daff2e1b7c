"""The engine against pytorch-grad-cam 1.5.7 on the oracle CNN (bench/oracle_cnn.py):
KPCA-CAM, FEM, ShapleyCAM, FinerCAM, and `eigen_smooth`, `aug_smooth` and several
layers for the methods that take them.

The fixtures come from a torch venv; regenerate them with

    /work/torchvenv/bin/python bench/gradcam_method_references.py

(its docstring says what each array is). Both sides run the same weights on the same
images; the conventions that differ on purpose (eigen_smooth's sign, Grad-CAM++'s 1e-6,
Score-CAM's mask resize) are set as the service's in the script, as docs/methods.md
says. Tolerances, relative to the reference map's largest |value|: `RAW_TOLERANCE` for
the raw maps (float32 convolutions in two frameworks; KPCA-CAM's eigenvector from
scikit-learn's ARPACK in float32 against float64 here) and `MAP_TOLERANCE` for the maps
at the input's resolution (the same plus `cv2.resize` against `tf.image.resize`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import keras
import numpy as np
import pytest

from app.engine.layers.lookup import resolve_layer
from app.engine.methods.options import CamOptions
from app.engine.runtime.gradcam import GradCam
from bench.gradcam_method_references import CASES
from bench.oracle_cnn import keras_model

FIXTURE = Path(__file__).resolve().parents[2] / "data" / "gradcam_methods_reference.npz"
RAW_TOLERANCE = 1e-4
MAP_TOLERANCE = 1e-4
PARAMETERS = {
    "kernel": "kpca_kernel",
    "gamma": "kpca_gamma",
    "k": "fem_k",
    "alpha": "finer_alpha",
    "comparison_categories": "finer_comparison",
}


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(FIXTURE) as arrays:
        return {key: arrays[key] for key in arrays.files}


@pytest.fixture(scope="module")
def model(reference: dict[str, np.ndarray]) -> keras.Model:
    weights = {
        key.removeprefix("weights/"): value
        for key, value in reference.items()
        if key.startswith("weights/")
    }
    return keras_model(weights)


def service_cam(model: keras.Model, settings: dict[str, Any], at_input: bool) -> GradCam:
    first, *more = settings["layers"]
    options = CamOptions(
        eigen_smooth=settings["eigen"],
        aug_smooth=settings["aug"],
        **{PARAMETERS[key]: value for key, value in settings["parameters"].items()},
    )
    return GradCam(
        model,
        first,
        method=settings["method"],
        options=options,
        more_layers=[resolve_layer(model, name) for name in more],
        at_input=at_input,
    )


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """max |ours - theirs| / max |theirs|, per image, the largest."""
    scale = np.abs(theirs).reshape(len(theirs), -1).max(axis=1)
    difference = np.abs(ours - theirs).reshape(len(theirs), -1).max(axis=1)
    return float((difference / np.maximum(scale, 1e-12)).max())


@pytest.mark.parametrize("name", list(CASES))
def test_maps_equal_pytorch_gradcam(name: str, model: keras.Model, reference) -> None:
    settings = CASES[name]
    images, targets = reference["images"], reference["targets"]
    compared = 0
    if f"{name}/map" in reference:
        expected = reference[f"{name}/map"]
        ours = service_cam(model, settings, at_input=True).explain(images, score=settings["score"])
        np.testing.assert_array_equal(ours.targets, targets)
        assert ours.cams.shape == expected.shape == (*images.shape[:3],)
        assert relative_difference(ours.cams, expected) < MAP_TOLERANCE
        compared += 1
    if f"{name}/raw" in reference:
        expected = reference[f"{name}/raw"]
        cam = service_cam(model, settings, at_input=False)
        ours = cam.explain(images, score=settings["score"], relu=False)
        np.testing.assert_array_equal(ours.targets, targets)
        assert relative_difference(ours.cams, expected) < RAW_TOLERANCE
        compared += 1
    assert compared
    assert np.abs(expected).max() > 0  # not a comparison of empty maps


@pytest.mark.parametrize(
    ("method", "options"),
    [
        ("finercam", CamOptions(eigen_smooth=True, finer_comparison=(1, 2))),
        ("gradcam++", CamOptions(aug_smooth=True)),
        ("kpcacam", CamOptions(kpca_kernel="poly")),
        ("shapleycam", CamOptions()),
    ],
)
def test_requests_do_not_retrace(model: keras.Model, method: str, options: CamOptions) -> None:
    """Batch sizes, targets, relu, counterfactual and score are tensors of the signature."""
    cam = GradCam(
        model,
        "last_conv",
        method=method,
        options=options,
        more_layers=[resolve_layer(model, "relu2")],
    )
    images = np.random.default_rng(3).random((3, 32, 32, 3), dtype=np.float32)
    cam.explain(images[:1])
    first = cam.trace_count
    uses_gradients = method != "kpcacam"
    cam.explain(images, [0, 4], relu=False, score="output", counterfactual=uses_gradients)
    cam.explain(images[:2], [2])
    assert cam.trace_count == first
