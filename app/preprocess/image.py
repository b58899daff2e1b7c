"""Uploaded bytes to a checked RGB image, and images to model input arrays.

Only the header is read before the size limits are checked, so an image that
claims to be huge is refused without its pixels ever being allocated.
"""

from __future__ import annotations

import io
import struct
import warnings
import zlib
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from app.errors import InvalidImage, InvalidInput, UnsupportedMediaType

# Pillow format names. MPO (multi-picture JPEG from phones) opens through the
# JPEG plugin and is accepted with it.
ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", "GIF")

RESAMPLE_FILTERS: dict[str, Image.Resampling] = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
    "hamming": Image.Resampling.HAMMING,
}

COLOR_MODES = ("rgb", "grayscale")

# What a broken file can raise while Pillow parses or decodes it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error)
_SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")


@dataclass(frozen=True)
class ImageLimits:
    """Largest image accepted: total pixels and pixels along either side."""

    max_pixels: int = 25_000_000
    max_side: int = 8192


def decode_image(data: bytes, limits: ImageLimits) -> Image.Image:
    """Decode a JPEG, PNG, WebP or GIF (first frame) upload to an upright RGB image.

    Raises UnsupportedMediaType for other image formats and InvalidImage for
    undecodable, truncated or too large images.
    """
    # Pillow's bomb check runs inside Image.open, before our limits can, and only
    # warns below 2x its MAX_IMAGE_PIXELS: make that warning an error. Its other
    # warnings note malformed metadata (corrupt EXIF): the image decodes or is
    # refused either way, so they are noise. On Python 3.11 the filters are
    # process-wide, so a concurrent request can race them; the worst case is a
    # logged warning, then our own limit check refuses the image.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with _open_header(data) as image:
                _check_limits(image.size, limits)
                image.load()  # decode now: a truncated file must fail here
                upright = _apply_exif_orientation(image)
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
            raise InvalidImage(f"image refused as a decompression bomb: {error}") from None
        except _DECODE_ERRORS as error:
            raise InvalidImage(f"image data is corrupt or truncated: {error}") from None
    return to_rgb(upright)


def is_jpeg(data: bytes) -> bool:
    """Whether `data` is a JPEG file (its SOI marker; MPO too): a photo, and never
    transparent, since JPEG has no alpha channel."""
    return data[:3] == b"\xff\xd8\xff"


def _open_header(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except UnidentifiedImageError:
        other_format = _identify_format(data)
    accepted = "JPEG, PNG, WebP or GIF"
    if other_format is None:
        raise InvalidImage(f"not a decodable image; send {accepted}")
    raise UnsupportedMediaType(f"{other_format} images are not accepted; send {accepted}")


def _identify_format(data: bytes) -> str | None:
    """The format Pillow recognises in `data`, reading only its header."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except (UnidentifiedImageError, *_DECODE_ERRORS):
        return None


def _check_limits(size: tuple[int, int], limits: ImageLimits) -> None:
    width, height = size
    if width * height > limits.max_pixels or max(width, height) > limits.max_side:
        raise InvalidImage(
            f"image is {width}x{height} ({width * height:,} pixels); the limits are "
            f"{limits.max_pixels:,} pixels and {limits.max_side} pixels per side"
        )


def _apply_exif_orientation(image: Image.Image) -> Image.Image:
    """A copy of `image` turned upright by its EXIF orientation tag (1-8)."""
    try:
        return ImageOps.exif_transpose(image)
    except (KeyError, TypeError, *_DECODE_ERRORS) as error:
        raise InvalidImage(f"unreadable EXIF metadata: {error}") from None


def to_rgb(image: Image.Image) -> Image.Image:
    """Any Pillow mode to RGB: alpha flattened onto white, 16-bit scaled to 8-bit.
    An RGB image comes back as it is (not copied)."""
    if image.mode == "RGB":
        return image
    if image.mode in _SIXTEEN_BIT_MODES:
        return _sixteen_bit_to_rgb(image)
    try:
        if not image.has_transparency_data:
            return image.convert("RGB")
        rgba = image.convert("RGBA")
    except ValueError as error:
        raise InvalidImage(f"cannot convert image mode {image.mode} to RGB: {error}") from None
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _sixteen_bit_to_rgb(image: Image.Image) -> Image.Image:
    # Pillow's own conversion clips at 255, turning most 16-bit images white.
    # Scale the full 0..65535 range instead (65535 / 257 = 255 exactly).
    values = np.clip(np.asarray(image, dtype=np.float64), 0, 65535)
    eight_bit = np.rint(values / 257).astype(np.uint8)
    return Image.fromarray(eight_bit).convert("RGB")


def to_model_array(
    image: Image.Image, size: tuple[int, int], resample: str, color_mode: str
) -> np.ndarray:
    """A float32 (height, width, channels) array of 0..255 values for the model.

    `size` is (width, height) like Pillow's `Image.size` and the model card's
    `size`; the image is resized with the named Pillow filter only when its size
    differs. Channels are 3 for "rgb" and 1 for "grayscale" (ITU-R 601 luma, as
    Keras's load_img).
    """
    _check_choice("resample filter", resample, tuple(RESAMPLE_FILTERS))
    _check_choice("color mode", color_mode, COLOR_MODES)
    # Convert, then resize: the order Keras's load_img uses. (Neither changes `image`, so
    # an image already in the mode is used as it is, not copied.)
    mode = "L" if color_mode == "grayscale" else "RGB"
    converted = image if image.mode == mode else image.convert(mode)
    if converted.size != size:
        converted = converted.resize(size, resample=RESAMPLE_FILTERS[resample])
    array = np.asarray(converted, dtype=np.float32)
    return array[..., np.newaxis] if array.ndim == 2 else array


def _check_choice(what: str, value: str, valid: tuple[str, ...]) -> None:
    if value not in valid:
        raise InvalidInput(f"unknown {what} {value!r}; valid: {', '.join(valid)}")


def cap_longest_side(image: Image.Image, max_side: int) -> Image.Image:
    """`image` scaled down (aspect ratio kept) so neither side exceeds `max_side`."""
    new_size = capped_size(image.size, max_side)
    if new_size == image.size:
        return image
    return image.resize(new_size, resample=Image.Resampling.LANCZOS)


def capped_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """(width, height) scaled down, aspect ratio kept, so neither side exceeds `max_side`."""
    if max_side < 1:
        raise ValueError(f"max_side must be at least 1, got {max_side}")
    width, height = size
    longest = max(width, height)
    if longest <= max_side:
        return size
    scale = max_side / longest
    return (max(1, round(width * scale)), max(1, round(height * scale)))
