"""to_model_array and cap_longest_side."""

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.preprocess.image import RESAMPLE_FILTERS, cap_longest_side, to_model_array


def _photo(width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def test_same_size_is_not_resized() -> None:
    image = _photo(6, 4)
    array = to_model_array(image, (6, 4), "bicubic", "rgb")
    assert array.dtype == np.float32 and array.shape == (4, 6, 3)
    np.testing.assert_array_equal(array, np.asarray(image))


def test_size_is_width_then_height_like_pillow() -> None:
    assert to_model_array(_photo(20, 20), (6, 4), "nearest", "rgb").shape == (4, 6, 3)


@pytest.mark.parametrize("name", list(RESAMPLE_FILTERS))
def test_resizes_with_the_named_filter(name: str) -> None:
    image = _photo(37, 23)
    expected = np.asarray(image.resize((10, 8), resample=RESAMPLE_FILTERS[name]))
    np.testing.assert_array_equal(to_model_array(image, (10, 8), name, "rgb"), expected)


def test_filters_really_differ() -> None:
    image = _photo(37, 23)
    nearest = to_model_array(image, (10, 8), "nearest", "rgb")
    lanczos = to_model_array(image, (10, 8), "lanczos", "rgb")
    assert not np.array_equal(nearest, lanczos)


def test_grayscale_is_luma_with_one_channel() -> None:
    red = Image.new("RGB", (3, 3), (255, 0, 0))
    array = to_model_array(red, (3, 3), "nearest", "grayscale")
    assert array.shape == (3, 3, 1)
    # ITU-R 601-2: 0.299 * 255 = 76.2 -> 76.
    assert np.all(array == 76.0)


def test_values_span_0_to_255() -> None:
    image = Image.fromarray(np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8))
    array = to_model_array(image, (2, 1), "nearest", "rgb")
    assert (array.min(), array.max()) == (0.0, 255.0)


@pytest.mark.parametrize(("resample", "color_mode"), [("cubic", "rgb"), ("nearest", "rgba")])
def test_refuses_unknown_options(resample: str, color_mode: str) -> None:
    with pytest.raises(InvalidInput, match="valid"):
        to_model_array(_photo(4, 4), (2, 2), resample, color_mode)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((1000, 500), 100, (100, 50)),
        ((30, 300), 100, (10, 100)),
        ((1000, 1), 10, (10, 1)),
        ((333, 222), 100, (100, 67)),
    ],
)
def test_caps_the_longest_side_keeping_the_aspect_ratio(
    size: tuple[int, int], max_side: int, expected: tuple[int, int]
) -> None:
    assert cap_longest_side(Image.new("RGB", size), max_side).size == expected


@pytest.mark.parametrize("max_side", [100, 99])
def test_small_images_are_returned_as_they_are(max_side: int) -> None:
    image = Image.new("RGB", (99, 40))
    assert cap_longest_side(image, max_side) is image


def test_refuses_a_zero_cap() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        cap_longest_side(Image.new("RGB", (4, 4)), 0)
