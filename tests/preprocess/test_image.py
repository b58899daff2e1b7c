"""decode_image: formats, limits, corrupt files and EXIF orientation."""

import io
import struct
import warnings
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageFile

from app.errors import InvalidImage, UnsupportedMediaType
from app.preprocess.image import ImageLimits, decode_image

LIMITS = ImageLimits()


def _encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _blocks() -> np.ndarray:
    """A 32x48 RGB picture of six flat 16x16 blocks, distinct and asymmetric."""
    colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 0], [0, 255, 255], [255, 0, 255]]
    cells = np.array(colours, dtype=np.uint8).reshape(2, 3, 3)
    return np.repeat(np.repeat(cells, 16, axis=0), 16, axis=1)


def _noise(width: int = 64, height: int = 64) -> Image.Image:
    rng = np.random.default_rng(0)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _png_claiming(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose header (with a correct CRC) claims another size."""
    png = bytearray(_encode(Image.new("RGB", (1, 1)), "PNG"))
    png[16:24] = struct.pack(">II", width, height)  # IHDR data starts at byte 16
    png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))  # CRC of type + data
    return bytes(png)


# --- accepted formats ---------------------------------------------------------


@pytest.mark.parametrize(("fmt", "tolerance"), [("PNG", 0), ("JPEG", 8), ("WEBP", 8)])
def test_decodes_accepted_formats_to_rgb(fmt: str, tolerance: int) -> None:
    pixels = _blocks()
    options = {"quality": 95} if fmt != "PNG" else {}
    image = decode_image(_encode(Image.fromarray(pixels), fmt, **options), LIMITS)
    assert (image.mode, image.size) == ("RGB", (48, 32))
    # Block centres: lossy codecs blur only the block edges.
    diff = np.abs(np.asarray(image).astype(int) - pixels)[4:12, 4:12]
    assert diff.max() <= tolerance


def test_gif_gives_its_first_frame() -> None:
    red, blue = Image.new("RGB", (8, 8), (255, 0, 0)), Image.new("RGB", (8, 8), (0, 0, 255))
    data = _encode(red, "GIF", save_all=True, append_images=[blue], duration=100)
    assert Image.open(io.BytesIO(data)).n_frames == 2  # type: ignore[attr-defined]
    image = decode_image(data, LIMITS)
    assert image.mode == "RGB"
    assert np.all(np.asarray(image) == [255, 0, 0])


def test_multi_picture_jpeg_from_a_camera_is_accepted() -> None:
    first, second = Image.new("RGB", (16, 16), (0, 200, 0)), Image.new("RGB", (16, 16), "white")
    data = _encode(first, "MPO", save_all=True, append_images=[second])
    image = decode_image(data, LIMITS)
    assert np.abs(np.asarray(image).astype(int) - [0, 200, 0]).max() <= 4


# --- refused uploads ----------------------------------------------------------


@pytest.mark.parametrize("fmt", ["BMP", "TIFF", "ICO", "PPM"])
def test_other_image_formats_are_unsupported(fmt: str) -> None:
    with pytest.raises(UnsupportedMediaType) as caught:
        decode_image(_encode(Image.new("RGB", (8, 8)), fmt), LIMITS)
    assert caught.value.status == 415
    assert "JPEG, PNG, WebP or GIF" in caught.value.detail


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world", np.random.default_rng(0).bytes(4096), b"\x89PNG\r\n\x1a\n" + b"\0" * 40],
    ids=["empty", "text", "random", "png-signature-only"],
)
def test_non_images_are_invalid(data: bytes) -> None:
    with pytest.raises(InvalidImage) as caught:
        decode_image(data, LIMITS)
    assert caught.value.status == 400


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "GIF"])
def test_truncated_files_fail_while_decoding(fmt: str) -> None:
    data = _encode(_noise(), fmt)
    with pytest.raises(InvalidImage, match="corrupt or truncated"):
        decode_image(data[: len(data) // 2], LIMITS)


# --- size limits --------------------------------------------------------------


def test_a_huge_claim_is_refused_before_decoding(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse_to_decode(self: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse_to_decode)
    with pytest.raises(InvalidImage) as caught:
        decode_image(_png_claiming(9000, 9000), LIMITS)
    assert "9000x9000" in caught.value.detail
    assert "81,000,000" in caught.value.detail and "25,000,000" in caught.value.detail


@pytest.mark.parametrize(
    ("size", "accepted"),
    [((10, 10), True), ((11, 1), False), ((1, 11), False), ((10, 11), False), ((9, 9), True)],
)
def test_limits_apply_to_each_side_and_to_the_pixel_count(
    size: tuple[int, int], accepted: bool
) -> None:
    limits = ImageLimits(max_pixels=100, max_side=10)
    data = _encode(Image.new("RGB", size), "PNG")
    if accepted:
        assert decode_image(data, limits).size == size
    else:
        with pytest.raises(InvalidImage, match="limits are 100 pixels and 10 pixels per side"):
            decode_image(data, limits)


def test_a_long_thin_image_breaks_the_side_limit() -> None:
    with pytest.raises(InvalidImage, match="9000x10"):
        decode_image(_png_claiming(9000, 10), LIMITS)


@pytest.mark.parametrize("side", [10_000, 20_000], ids=["bomb-warning", "bomb-error"])
def test_pillow_decompression_bombs_become_invalid_images(side: int) -> None:
    generous = ImageLimits(max_pixels=10**9, max_side=10**6)
    # Ignored outside: decode_image must turn Pillow's warning into an error itself.
    with warnings.catch_warnings(action="ignore"), pytest.raises(InvalidImage, match="bomb"):
        decode_image(_png_claiming(side, side), generous)


# --- EXIF orientation ---------------------------------------------------------

# How the camera stored a picture `shown` for each EXIF orientation (from the
# EXIF spec: where the stored row 0 and column 0 belong on the shown picture).
_STORED = {
    1: lambda shown: shown,
    2: lambda shown: shown[:, ::-1],  # row 0 top, column 0 right
    3: lambda shown: shown[::-1, ::-1],  # row 0 bottom, column 0 right
    4: lambda shown: shown[::-1, :],  # row 0 bottom, column 0 left
    5: lambda shown: shown.transpose(1, 0, 2),  # row 0 left, column 0 top
    6: lambda shown: np.rot90(shown, 1),  # row 0 right, column 0 top
    7: lambda shown: shown[::-1, ::-1].transpose(1, 0, 2),  # row 0 right, column 0 bottom
    8: lambda shown: np.rot90(shown, -1),  # row 0 left, column 0 bottom
}


def _with_orientation(stored: np.ndarray, orientation: int, fmt: str) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": 95} if fmt == "JPEG" else {}
    return _encode(Image.fromarray(np.ascontiguousarray(stored)), fmt, exif=exif, **options)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_turns_the_picture_upright(orientation: int) -> None:
    shown = _blocks()
    data = _with_orientation(_STORED[orientation](shown), orientation, "PNG")
    np.testing.assert_array_equal(np.asarray(decode_image(data, LIMITS)), shown)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_in_a_jpeg(orientation: int) -> None:
    shown = _blocks()
    data = _with_orientation(_STORED[orientation](shown), orientation, "JPEG")
    decoded = np.asarray(decode_image(data, LIMITS)).astype(int)
    assert decoded.shape == shown.shape
    assert np.abs(decoded - shown)[4:12, 4:12].max() <= 8
    assert np.abs(decoded - shown)[20:28, 36:44].max() <= 8
