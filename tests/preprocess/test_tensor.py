"""Image tensors: the card's scaling read off as an affine map and undone; the checks."""

import numpy as np
import pytest

from app.errors import InvalidInput
from app.preprocess.tensor import ImageTensor, parse_tensor, scaling_affine, tensor_pixels
from app.registry.card import ImageConfig
from app.registry.formats.loader import image_scaling

PIXELS = np.random.default_rng(1).integers(0, 256, (4, 5, 3)).astype(np.float64)
MEAN_STD = {"scaling": "mean_std", "mean": [120.0, 110.0, 100.0], "std": [60.0, 55.0, 50.0]}


@pytest.mark.parametrize(
    "image",
    [
        {"scaling": "unit"},
        {"scaling": "symmetric"},
        {"scaling": "raw"},
        MEAN_STD,
        {"scaling": "keras.applications.vgg16"},  # caffe: RGB -> BGR, the mean subtracted
        {"scaling": "keras.applications.mobilenet_v2"},
    ],
)
def test_every_scaling_is_undone(image: dict) -> None:
    config = ImageConfig.model_validate({"size": [5, 4]} | image)
    scale = image_scaling(config)
    sent = np.asarray(scale(PIXELS[None].astype(np.float32)), np.float64)[0]
    affine = scaling_affine(scale, 3)
    assert affine is not None
    pixels = tensor_pixels(ImageTensor(sent, 0), (4, 5, 3), affine, "m", image["scaling"], "x")
    np.testing.assert_allclose(pixels, PIXELS, atol=1e-3)


def test_a_scaling_that_is_not_affine_is_none() -> None:
    assert scaling_affine(lambda pixels: np.sqrt(pixels), 3) is None
    assert scaling_affine(lambda pixels: pixels * 0.0, 3) is None  # not invertible


def check(values: np.ndarray, key: str | None = None) -> np.ndarray:
    scale = image_scaling(ImageConfig(size=(5, 4)))
    affine = scaling_affine(scale, 3)
    return tensor_pixels(ImageTensor(values, 2, key), (4, 5, 3), affine, "m", "unit", "pixels")


def test_the_shape_is_the_models() -> None:
    with pytest.raises(InvalidInput, match=r"shape \[5, 4, 3\]; model m takes \[4, 5, 3\]"):
        check(np.zeros((5, 4, 3)))


def test_values_outside_the_scaled_range_name_it() -> None:
    unscaled = np.zeros((4, 5, 3))
    unscaled[0, 0] = 255.0  # pixels sent as they are, to a model that takes 0..1
    with pytest.raises(InvalidInput, match=r"values 0\.\.255; model m takes 0\.\.1 "):
        check(unscaled)
    check(np.full((4, 5, 3), 1.0 + 1e-6))  # float rounding of 255 / 255 is taken


def test_the_input_key_is_the_models() -> None:
    with pytest.raises(InvalidInput, match="names the input 'image'; model m takes 'pixels'"):
        check(PIXELS / 255, key="image")
    np.testing.assert_allclose(check(PIXELS / 255, key="pixels"), PIXELS, atol=1e-3)


@pytest.mark.parametrize(
    ("values", "said"),
    [
        ([[1, 2], [3]], "not all of one length"),
        ([["a", 1]], "not all numbers"),
        ([[True, False]], "true/false"),
        ([[None]], "not all numbers"),
        ([], "empty"),
        ([[1e308 * 10]], "an infinity"),
    ],
)
def test_what_is_not_a_tensor_of_numbers(values: list, said: str) -> None:
    with pytest.raises(InvalidInput, match=said):
        parse_tensor(0, values, None)
