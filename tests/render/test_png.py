"""app.render.png: round trips through two decoders, the bytes parsed by hand, bad input."""

import io
import struct
import zlib

import imagecodecs  # oracle: libpng, which checks every chunk CRC and the adler32
import numpy as np
import pytest
from PIL import Image

from app.render.png import encode_png, up_filtered

_CHANNELS = {"L": None, "LA": 2, "RGB": 3, "RGBA": 4}
_COLOUR_TYPES = {"L": 0, "LA": 4, "RGB": 2, "RGBA": 6}
_SIZES = [(1, 1), (1, 7), (7, 1), (2, 2), (5, 3), (17, 31), (64, 33)]  # (height, width)


def _random(mode: str, height: int, width: int, seed: int = 0) -> np.ndarray:
    channels = _CHANNELS[mode]
    shape = (height, width) if channels is None else (height, width, channels)
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of every chunk, asserting the signature, lengths and CRCs."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert len(body) == length and crc == zlib.crc32(kind + body), kind
        chunks.append((kind, body))
        at += 12 + length
    assert at == len(data)
    return chunks


@pytest.mark.parametrize("mode", list(_CHANNELS))
@pytest.mark.parametrize(("height", "width"), _SIZES)
def test_round_trips_through_pillow_and_libpng(mode: str, height: int, width: int) -> None:
    pixels = _random(mode, height, width, seed=height * 100 + width)
    data = encode_png(pixels)
    decoded = Image.open(io.BytesIO(data))
    assert decoded.format == "PNG" and decoded.mode == mode
    np.testing.assert_array_equal(np.asarray(decoded), pixels)
    np.testing.assert_array_equal(imagecodecs.png_decode(data), pixels)


@pytest.mark.parametrize("mode", list(_CHANNELS))
def test_chunk_layout_header_and_scanlines(mode: str) -> None:
    height, width = 5, 3
    pixels = _random(mode, height, width)
    chunks = _chunks(encode_png(pixels))
    assert [kind for kind, _ in chunks] == [b"IHDR", b"IDAT", b"IEND"]
    header = struct.unpack(">IIBBBBB", chunks[0][1])
    assert header == (width, height, 8, _COLOUR_TYPES[mode], 0, 0, 0)
    assert chunks[2][1] == b""
    raw = zlib.decompress(chunks[1][1])  # a zlib stream: header and adler32 checked
    stride = width * (_CHANNELS[mode] or 1)
    assert len(raw) == height * (1 + stride)
    assert raw[:: 1 + stride] == bytes([2] * height)  # every scanline: filter type 2, Up


def test_up_filter_by_hand() -> None:
    pixels = np.array([[10, 250], [5, 255]], dtype=np.uint8)
    # First row against zeros; second row minus the first, mod 256: 5 - 10 wraps to 251.
    expected = bytes([2, 10, 250, 2, 251, 5])
    assert up_filtered(pixels) == expected
    chunks = _chunks(encode_png(pixels))
    assert zlib.decompress(chunks[1][1]) == expected


def test_up_filter_by_hand_with_channels() -> None:
    pixels = np.array([[[1, 2], [3, 4]], [[0, 2], [200, 4]]], dtype=np.uint8)  # LA, 2x2
    assert up_filtered(pixels) == bytes([2, 1, 2, 3, 4, 2, 255, 0, 197, 0])


def test_strided_views_encode_their_own_pixels() -> None:
    rgba = _random("RGBA", 9, 12)
    for view in (rgba[..., :3], rgba[:, ::2], rgba[::-1], rgba.transpose(1, 0, 2)):
        assert not view.flags.c_contiguous
        np.testing.assert_array_equal(imagecodecs.png_decode(encode_png(view)), view)


def test_libpng_oracle_rejects_a_bad_crc() -> None:
    # The round trips prove the CRCs only if the oracle checks them: it does.
    data = bytearray(encode_png(_random("RGB", 4, 4)))
    data[-13] ^= 1  # last byte of the IDAT chunk's CRC
    with pytest.raises(imagecodecs.PngError, match="CRC"):
        imagecodecs.png_decode(bytes(data))


@pytest.mark.parametrize(
    "pixels",
    [
        np.zeros((4, 4), dtype=np.uint16),
        np.zeros((4, 4, 3), dtype=np.float32),
        np.zeros((4, 4), dtype=bool),
        np.zeros((4, 4), dtype=np.int8),
        np.zeros(16, dtype=np.uint8),
        np.zeros((2, 4, 4, 3), dtype=np.uint8),
        np.zeros((4, 4, 1), dtype=np.uint8),
        np.zeros((4, 4, 5), dtype=np.uint8),
        np.zeros((0, 4, 3), dtype=np.uint8),
        np.zeros((4, 0), dtype=np.uint8),
    ],
    ids=[
        "uint16",
        "float32",
        "bool",
        "int8",
        "1-D",
        "4-D",
        "1-channel",
        "5-channel",
        "0-high",
        "0-wide",
    ],
)
def test_invalid_pixels_are_refused(pixels: np.ndarray) -> None:
    with pytest.raises(ValueError, match="PNG pixels"):
        encode_png(pixels)
