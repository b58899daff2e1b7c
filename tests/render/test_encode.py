import base64
import io

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput
from app.render.encode import MEDIA_TYPES, data_url, encode_image, png_ready
from app.render.overlay import blend_overlay

_PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


def _overlay_like() -> Image.Image:
    """RGBA with flat 16x16 blocks (lossy codecs keep those nearly exact)."""
    pixels = np.zeros((32, 32, 4), dtype=np.uint8)
    pixels[:16, :16] = [200, 30, 30, 255]  # opaque red
    pixels[:16, 16:] = [30, 200, 30, 255]  # opaque green
    pixels[16:, :] = [0, 0, 0, 0]  # fully transparent
    return Image.fromarray(pixels)


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt", list(MEDIA_TYPES))
def test_bytes_are_the_format_and_media_type_they_claim(fmt: str) -> None:
    decoded = _decode(encode_image(_overlay_like(), fmt))
    assert decoded.format == _PILLOW_FORMATS[fmt]
    assert Image.MIME[decoded.format] == MEDIA_TYPES[fmt]


def test_png_is_lossless_and_keeps_alpha() -> None:
    image = _overlay_like()
    decoded = _decode(encode_image(image))
    assert decoded.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(image))


def test_png_ready_converts_other_modes_and_keeps_alpha() -> None:
    opaque_la = Image.fromarray(np.arange(12, dtype=np.uint8).reshape(3, 4)).convert("LA")
    assert png_ready(opaque_la).shape == (3, 4, 2)
    assert png_ready(Image.new("P", (4, 3))).shape == (3, 4, 3)
    assert png_ready(Image.new("PA", (4, 3))).shape == (3, 4, 4)


def test_png_of_an_overlay_is_rgba_and_pixel_exact() -> None:
    photo = Image.fromarray(np.random.default_rng(1).integers(0, 256, (48, 64, 3), np.uint8))
    heatmap = np.random.default_rng(2).uniform(0, 1, (7, 7))
    overlay = blend_overlay(photo, heatmap)
    decoded = _decode(encode_image(overlay))
    assert decoded.mode == "RGBA"
    np.testing.assert_array_equal(np.asarray(decoded), np.asarray(overlay))


def test_jpeg_flattens_transparency_onto_white() -> None:
    decoded = np.asarray(_decode(encode_image(_overlay_like(), "jpeg"))).astype(int)
    assert decoded.shape == (32, 32, 3)
    assert np.abs(decoded[20:, :] - 255).max() <= 3  # transparent -> white
    assert np.abs(decoded[4:12, 4:12] - [200, 30, 30]).max() <= 6


def test_an_opaque_rgba_is_encoded_as_its_rgb() -> None:
    """An overlay over a photo is RGBA with alpha 255 everywhere: its JPEG is that of its
    RGB pixels, byte for byte (no flattening needed)."""
    rng = np.random.default_rng(3)
    rgb = Image.fromarray(rng.integers(0, 256, (24, 32, 3), dtype=np.uint8))
    assert encode_image(rgb.convert("RGBA"), "jpeg") == encode_image(rgb, "jpeg")


def test_jpeg_accepts_modes_without_alpha() -> None:
    gray = Image.new("L", (8, 8), 100)
    decoded = np.asarray(_decode(encode_image(gray, "jpeg")).convert("L")).astype(int)
    assert np.abs(decoded - 100).max() <= 2


def test_webp_keeps_alpha() -> None:
    decoded = _decode(encode_image(_overlay_like(), "webp"))
    assert decoded.mode == "RGBA"
    alpha = np.asarray(decoded)[..., 3]
    assert alpha[:16].min() == 255 and alpha[16:].max() == 0


def test_webp_accepts_other_modes() -> None:
    decoded = _decode(encode_image(Image.new("L", (8, 8), 100), "webp"))
    assert np.abs(np.asarray(decoded.convert("L")).astype(int) - 100).max() <= 3


def test_data_url_by_hand() -> None:
    assert data_url(b"abc", "png") == "data:image/png;base64,YWJj"


@pytest.mark.parametrize("fmt", list(MEDIA_TYPES))
def test_data_url_round_trips(fmt: str) -> None:
    data = encode_image(_overlay_like(), fmt)
    prefix, _, payload = data_url(data, fmt).partition(",")
    assert prefix == f"data:{MEDIA_TYPES[fmt]};base64"
    assert base64.b64decode(payload, validate=True) == data


@pytest.mark.parametrize("fmt", ["gif", "PNG", "jpg", ""])
def test_unknown_formats_are_refused(fmt: str) -> None:
    with pytest.raises(InvalidInput, match="png, jpeg, webp"):
        encode_image(_overlay_like(), fmt)
    with pytest.raises(InvalidInput):
        data_url(b"x", fmt)
