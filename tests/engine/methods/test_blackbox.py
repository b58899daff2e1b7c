"""Occlusion and RISE: Captum's Occlusion (a committed fixture), direct numpy sums, shapes."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.methods.blackbox import BlackBoxOptions
from app.engine.methods.rise import KEEP_PROBABILITY, RiseMasks
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from training.evaluate_shapes import hits
from training.shapes_data import make_shapes

DATA = Path(__file__).resolve().parents[2] / "data" / "occlusion_reference.npz"
SHAPES = Path(__file__).resolve().parents[3] / "models" / "shapes" / "model.keras"


def unscaled(pixels: np.ndarray) -> np.ndarray:
    return pixels


def symmetric(pixels: np.ndarray) -> np.ndarray:
    return pixels / np.float32(127.5) - np.float32(1.0)


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(DATA) as data:
        return dict(data)


@pytest.fixture(scope="module")
def tiny_cnn(reference: dict[str, np.ndarray], tmp_path_factory: pytest.TempPathFactory):
    """bench/occlusion_reference.py's CNN, in Keras, round-tripped through `.keras`."""
    inputs = keras.Input((16, 16, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="scores")(x)
    model = keras.Model(inputs, outputs)
    model.get_layer("conv").set_weights([reference["kernel"], reference["bias"]])
    model.get_layer("scores").set_weights([reference["dense"], reference["dense_bias"]])
    path = tmp_path_factory.mktemp("tiny") / "tiny.keras"
    model.save(path)
    return keras.saving.load_model(path, compile=False, safe_mode=True)


@pytest.mark.parametrize("score", ["logit", "output"])
def test_occlusion_equals_captum(tiny_cnn, reference, score: str) -> None:
    images = reference["images"]
    targets = [[int(t)] for t in reference["targets"]]
    cam = GradCam(tiny_cnn, method="occlusion")
    np.testing.assert_allclose(
        tiny_cnn.predict(images, verbose=0),
        reference["predictions_output"],
        atol=1e-5,
    )
    for window, stride in reference["settings"]:
        options = BlackBoxOptions(occlusion_window=int(window), occlusion_stride=int(stride))
        result = cam.explain(
            images,
            targets,
            relu=False,
            score=score,
            pixels=images,
            scaling=unscaled,
            blackbox=options,
        )
        expected = reference[f"{score}_{window}_{stride}"]
        assert result.cams.shape == expected.shape == (2, 16, 16)
        np.testing.assert_allclose(result.cams, expected, atol=2e-5)


def direct_occlusion(model, image, target, window, stride, scaling) -> np.ndarray:
    """The definition, window by window: the mean drop of the windows covering a pixel."""
    corners = [
        (top, left)
        for top in range(0, image.shape[0] - window + 1, stride)
        for left in range(0, image.shape[1] - window + 1, stride)
    ]
    occluded = np.repeat(image[None], len(corners) + 1, axis=0)  # the first one stays whole
    for index, (top, left) in enumerate(corners, start=1):
        occluded[index, top : top + window, left : left + window] = 0
    scores = model.predict(scaling(occluded), verbose=0)[:, target]
    total, count = np.zeros(image.shape[:2]), np.zeros(image.shape[:2])
    for (top, left), score in zip(corners, scores[1:], strict=True):
        total[top : top + window, left : left + window] += scores[0] - score
        count[top : top + window, left : left + window] += 1
    return np.divide(total, count, out=np.zeros_like(total), where=count > 0)


def test_occlusion_equals_direct_sum_with_scaling_and_uncovered_border(tiny_cnn) -> None:
    """Black is 0 before the scaling (-1 after `symmetric`); a 5 px window at stride 5
    leaves the last column and row of a 16 px side uncovered: they are 0."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.float32)
    cam = GradCam(tiny_cnn, method="occlusion")
    options = BlackBoxOptions(occlusion_window=5, occlusion_stride=5)
    result = cam.explain(
        symmetric(pixels),
        [[1], [2]],
        relu=False,
        score="output",
        pixels=pixels,
        scaling=symmetric,
        blackbox=options,
    )
    for row, target in enumerate((1, 2)):
        expected = direct_occlusion(tiny_cnn, pixels[row], target, 5, 5, symmetric)
        np.testing.assert_allclose(result.cams[row], expected, atol=1e-5)
    assert not result.cams[:, 15, :].any() and not result.cams[:, :, 15].any()


def test_occlusion_default_window_is_an_eighth_and_relu_clips(tiny_cnn, reference) -> None:
    images = reference["images"]
    cam = GradCam(tiny_cnn, method="occlusion")
    result = cam.explain(images, [[0], [2]], score="logit", pixels=images, scaling=unscaled)
    # 16 / 8 = 2 px windows at stride 1: Captum's (2, 1) is not in the fixture, so the
    # default is checked against the direct sum.
    logits = keras.Model(tiny_cnn.inputs, tiny_cnn.get_layer("scores").input)
    dense = tiny_cnn.get_layer("scores")

    def logit(pixels: np.ndarray) -> np.ndarray:  # the model with its softmax left out
        features = logits.predict(pixels, verbose=0)
        return features @ dense.kernel.numpy() + dense.bias.numpy()

    class Logits:
        predict = staticmethod(lambda pixels, verbose=0: logit(pixels))

    for row, target in enumerate((0, 2)):
        expected = direct_occlusion(Logits, images[row], target, 2, 1, unscaled)
        assert (expected < 0).any()  # so relu has something to clip
        np.testing.assert_allclose(result.cams[row], np.maximum(expected, 0), atol=2e-5)


def test_rise_equals_direct_sum_with_the_same_masks(tiny_cnn) -> None:
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (2, 16, 16, 3)).astype(np.float32)
    options = BlackBoxOptions(rise_masks=50, rise_cells=4, seed=11)
    cam = GradCam(tiny_cnn, method="rise")
    result = cam.explain(
        symmetric(pixels),
        [[0, 1], [2]],
        relu=False,
        score="output",
        pixels=pixels,
        scaling=symmetric,
        blackbox=options,
    )
    masks = RiseMasks.draw(options, (16, 16)).masks(0, 50)
    assert masks.shape == (50, 16, 16) and masks.min() >= 0.0 and masks.max() <= 1.0
    for row, (sample, target) in enumerate([(0, 0), (0, 1), (1, 2)]):
        masked = pixels[sample] * masks[..., None]
        scores = tiny_cnn.predict(symmetric(masked), verbose=0)[:, target]
        expected = np.tensordot(scores, masks, axes=1) / (50 * KEEP_PROBABILITY)
        np.testing.assert_allclose(result.cams[row], expected, rtol=1e-5, atol=1e-6)


def test_rise_masks_follow_the_seed() -> None:
    first = RiseMasks.draw(BlackBoxOptions(rise_masks=8, rise_cells=7, seed=1), (64, 64))
    again = RiseMasks.draw(BlackBoxOptions(rise_masks=8, rise_cells=7, seed=1), (64, 64))
    other = RiseMasks.draw(BlackBoxOptions(rise_masks=8, rise_cells=7, seed=2), (64, 64))
    np.testing.assert_array_equal(first.masks(0, 8), again.masks(0, 8))
    assert not np.array_equal(first.masks(0, 8), other.masks(0, 8))
    # Cells of ceil(64 / 7) = 10 px; the upsampled grid is 8 x 10 = 80 px, shifts < 10.
    assert first.shifts.max() < 10
    np.testing.assert_array_equal(first.masks(2, 5), first.masks(0, 8)[2:5])


@pytest.mark.slow
def test_rise_points_at_the_shape() -> None:
    model = keras.saving.load_model(SHAPES, compile=False, safe_mode=True)
    images, labels, boxes = make_shapes(6, 4242)
    pixels = images.astype(np.float32)
    cam = GradCam(model, method="rise")
    result = cam.explain(
        pixels / 255,
        [[int(k)] for k in labels],
        pixels=pixels,
        scaling=lambda p: p / np.float32(255),
        blackbox=BlackBoxOptions(rise_masks=500),
    )
    assert result.heatmaps.shape == (6, 64, 64)
    assert hits(result.heatmaps, boxes).mean() >= 5 / 6


def test_no_retrace_across_requests(tiny_cnn, reference) -> None:
    images = reference["images"]
    cam = GradCam(tiny_cnn, method="occlusion")
    for window in (4, 8, 3):
        cam.explain(
            images[: 1 + window % 2],
            None,
            pixels=images[: 1 + window % 2],
            scaling=unscaled,
            blackbox=BlackBoxOptions(occlusion_window=window),
        )
    assert cam.trace_count == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (BlackBoxOptions(occlusion_window=17), "occlusion_window"),
        (BlackBoxOptions(rise_cells=17), "rise_cells"),
    ],
)
def test_bad_options_are_invalid_input(tiny_cnn, reference, options, message) -> None:
    images = reference["images"]
    method = "occlusion" if options.occlusion_window else "rise"
    cam = GradCam(tiny_cnn, method=method)
    with pytest.raises(InvalidInput, match=message):
        cam.explain(images, None, pixels=images, scaling=unscaled, blackbox=options)


def test_text_models_refuse_blackbox_methods() -> None:
    inputs = keras.Input((8,), dtype="int32")
    x = keras.layers.Embedding(10, 4)(inputs)
    x = keras.layers.Conv1D(3, 2, name="conv")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    with pytest.raises(InvalidInput, match="image models"):
        GradCam(model, "conv", method="occlusion")
