"""Every Pillow mode becomes RGB: alpha onto white, 16-bit scaled, CMYK converted."""

import io

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidImage
from app.preprocess.image import ImageLimits, decode_image, to_rgb


def _png_round_trip(image: Image.Image) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return decode_image(buffer.getvalue(), ImageLimits())


def _pixels(image: Image.Image) -> list[list[int]]:
    assert image.mode == "RGB"
    return np.asarray(image).reshape(-1, 3).tolist()


def test_bilevel() -> None:
    image = Image.new("1", (2, 1))
    image.putpixel((1, 0), 1)
    assert _pixels(_png_round_trip(image)) == [[0, 0, 0], [255, 255, 255]]


def test_grayscale() -> None:
    image = Image.fromarray(np.array([[0, 77, 255]], dtype=np.uint8))
    assert _pixels(_png_round_trip(image)) == [[0, 0, 0], [77, 77, 77], [255, 255, 255]]


def test_grayscale_with_alpha_is_flattened_onto_white() -> None:
    image = Image.fromarray(np.array([[[50, 255], [50, 0]]], dtype=np.uint8), mode="LA")
    assert _pixels(_png_round_trip(image)) == [[50, 50, 50], [255, 255, 255]]


def test_palette() -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 0])
    image.putpixel((1, 0), 1)
    assert _pixels(_png_round_trip(image)) == [[10, 20, 30], [200, 100, 0]]


def test_palette_with_a_transparent_entry_is_flattened_onto_white() -> None:
    image = Image.new("P", (2, 1))
    image.putpalette([10, 20, 30, 200, 100, 0])
    image.putpixel((1, 0), 1)
    image.info["transparency"] = 1
    assert _pixels(_png_round_trip(image)) == [[10, 20, 30], [255, 255, 255]]


def test_rgb_is_unchanged() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    decoded = _png_round_trip(Image.fromarray(pixels))
    np.testing.assert_array_equal(np.asarray(decoded), pixels)


def test_rgba_is_flattened_onto_white() -> None:
    rgba = np.array([[[200, 0, 0, 255], [200, 0, 0, 0], [0, 0, 0, 128]]], dtype=np.uint8)
    opaque, clear, half = _pixels(_png_round_trip(Image.fromarray(rgba)))
    assert opaque == [200, 0, 0]
    assert clear == [255, 255, 255]
    # Half-transparent black over white: 255 * (1 - 128/255) = 127.
    assert all(abs(channel - 127) <= 1 for channel in half)


def test_cmyk_jpeg() -> None:
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # no black, full magenta+yellow
    buffer = io.BytesIO()
    cmyk.save(buffer, format="JPEG", quality=95)
    decoded = decode_image(buffer.getvalue(), ImageLimits())
    assert decoded.mode == "RGB"
    assert np.abs(np.asarray(decoded).astype(int) - [255, 0, 0]).max() <= 4


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    values = np.array([[0, 255, 1000, 32768, 65535]], dtype=np.uint16)
    decoded = _png_round_trip(Image.fromarray(values))
    # v / 257, rounded: 65535 -> 255 and mid-grey stays mid-grey (Pillow clips to 255).
    assert [pixel[0] for pixel in _pixels(decoded)] == [0, 1, 4, 128, 255]


@pytest.mark.parametrize(("mode", "dtype"), [("I;16", "<u2"), ("I;16B", ">u2")])
def test_sixteen_bit_modes_in_memory(mode: str, dtype: str) -> None:
    values = np.array([0, 257 * 100, 65535], dtype=dtype)
    image = Image.frombytes(mode, (3, 1), values.tobytes())
    assert [pixel[0] for pixel in _pixels(to_rgb(image))] == [0, 100, 255]


def test_32_bit_integers_are_read_as_16_bit_and_clamped() -> None:
    image = Image.fromarray(np.array([[-5, 257 * 3, 65535, 70000]], dtype=np.int32))
    assert image.mode == "I"
    assert [pixel[0] for pixel in _pixels(to_rgb(image))] == [0, 3, 255, 255]


def test_floats_follow_pillows_0_to_255_convention() -> None:
    image = Image.fromarray(np.array([[-3.0, 0.0, 127.0, 300.0]], dtype=np.float32))
    assert image.mode == "F"
    assert [pixel[0] for pixel in _pixels(to_rgb(image))] == [0, 0, 127, 255]


def test_premultiplied_modes_without_a_conversion_are_invalid() -> None:
    with pytest.raises(InvalidImage, match="mode La"):
        to_rgb(Image.new("La", (1, 1)))


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "CMYK", "YCbCr", "F"])
def test_every_mode_gives_rgb_of_the_same_size(mode: str) -> None:
    converted = to_rgb(Image.new(mode, (3, 2)))
    assert (converted.mode, converted.size) == ("RGB", (3, 2))
