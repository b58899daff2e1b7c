"""Region masks sampled at an output's grid: the cells Pillow's nearest resize picks."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from app.errors import InvalidInput, MaskSizeMismatch
from app.explain.targets import mask_region
from app.preprocess.mask import inside_at_grid, nearest_indices, open_mask

GRIDS = [1, 2, 3, 7, 8, 16, 28, 56, 64, 97, 128, 224]


def png(picture: Image.Image) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def resized_region(picture: Image.Image, grid: tuple[int, int]) -> np.ndarray:
    """The region as the service made it before: a bool picture, resized nearest."""
    values = np.asarray(picture)
    inside = values.any(axis=-1) if values.ndim == 3 else values != 0
    small = Image.fromarray(inside.astype(np.uint8) * 255).resize(
        (grid[1], grid[0]), Image.Resampling.NEAREST
    )
    return np.asarray(small) != 0


@pytest.mark.parametrize("source", [1, 3, 5, 31, 64, 100, 149, 224, 333, 640, 1001])
def test_the_indices_are_the_ones_pillow_reads(source):
    row = Image.fromarray(np.arange(source, dtype=np.int32)[None, :])  # each pixel its index
    for target in GRIDS:
        expected = np.asarray(row.resize((target, 1), Image.Resampling.NEAREST))[0]
        np.testing.assert_array_equal(nearest_indices(source, target), expected)


@pytest.mark.parametrize("mode", ["1", "L", "P", "LA", "RGB", "RGBA", "I;16"])
def test_every_png_mode_gives_the_resized_region(mode):
    rng = np.random.default_rng(7)
    for width, height, grid in [(149, 97, (16, 16)), (64, 64, (16, 16)), (5, 9, (8, 3))]:
        noise = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
        sparse = np.where(rng.random((height, width, 4)) < 0.4, noise, 0).astype(np.uint8)
        picture = Image.fromarray(sparse, "RGBA").convert(mode)  # some channels zero
        region = inside_at_grid(open_mask(png(picture)), grid)
        decoded = Image.open(io.BytesIO(png(picture)))
        assert region.dtype == bool and region.shape == grid
        np.testing.assert_array_equal(region, resized_region(decoded, grid))


def png_header(width: int, height: int) -> bytes:
    """A PNG's signature, header and the start of its pixels, and nothing more."""
    chunks = b""
    for name, data in ((b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
                       (b"IDAT", zlib.compress(b"\0" * 64))):  # fmt: skip
        chunks += struct.pack(">I", len(data)) + name + data
        chunks += struct.pack(">I", zlib.crc32(name + data))
    return b"\x89PNG\r\n\x1a\n" + chunks


def test_a_mask_of_another_size_is_refused_from_its_header():
    """9000x9000 claimed, 64 bytes held: refused by its size, never decoded (decoding
    would allocate 81 MB and then fail as an unreadable PNG)."""
    with pytest.raises(MaskSizeMismatch, match="9000x9000"):
        mask_region(png_header(9000, 9000), (64, 64), (16, 16))


def test_a_mask_claiming_pillows_bomb_size_is_a_422():
    with pytest.raises(InvalidInput, match="not a readable PNG"):
        mask_region(png_header(20_000, 20_000), (64, 64), (16, 16))


def test_a_truncated_mask_at_the_right_size_is_unreadable():
    whole = png(Image.new("L", (64, 64), 255))
    with pytest.raises(InvalidInput, match="not a readable PNG"):
        inside_at_grid(open_mask(whole[: len(whole) // 2]), (16, 16))
