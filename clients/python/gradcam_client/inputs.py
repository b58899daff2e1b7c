"""Request bodies: images of any accepted kind as base64 instances (or one large image
as a raw body, options in the query string), options left out unless set (the
service applies its own defaults to what is not sent)."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TypeAlias

import numpy as np
from PIL import Image

ImageInput: TypeAlias = str | os.PathLike[str] | bytes | Image.Image | np.ndarray
ImagesInput: TypeAlias = ImageInput | Sequence[ImageInput]


def image_bytes(image: ImageInput) -> bytes:
    """An encoded image file: read from a path, taken as is, or encoded as PNG."""
    if isinstance(image, bytes | bytearray | memoryview):
        return bytes(image)
    if isinstance(image, str | os.PathLike):
        return Path(image).read_bytes()
    if isinstance(image, np.ndarray):
        image = array_image(image)
    if isinstance(image, Image.Image):
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        return buffer.getvalue()
    raise TypeError(f"an image is a path, bytes, a PIL image or a uint8 array, not {image!r:.80}")


def array_image(array: np.ndarray) -> Image.Image:
    """A uint8 array of shape (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) as a PIL image."""
    if array.dtype != np.uint8:
        raise TypeError(f"an image array must be uint8 (0..255), not {array.dtype}")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
        raise ValueError(f"an image array has shape (H, W[, 1|3|4]), not {array.shape}")
    return Image.fromarray(array)


def as_image_list(images: ImagesInput) -> list[ImageInput]:
    """One image or a list/tuple of them (a bytes object or an array is one image)."""
    if isinstance(images, list | tuple):
        return list(images)
    return [images]  # type: ignore[list-item]


def image_instances(files: list[bytes]) -> list[dict[str, Any]]:
    return [{"image": {"b64": base64.b64encode(data).decode("ascii")}} for data in files]


def media_type(data: bytes) -> str | None:
    """The image type the service takes as a raw body, from the file's first bytes."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def query_parameters(options: dict[str, Any]) -> dict[str, str]:
    """Options as query-string values: lists comma-joined, booleans lowercase."""

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, list | tuple):
            return ",".join(text(item) for item in value)
        return str(value)

    return {name: text(value) for name, value in explain_parameters(**options).items()}


def text_instances(
    text: str | Sequence[str] | None,
    tokens: Sequence[str] | None,
    ids: Sequence[int] | None,
) -> list[dict[str, Any]]:
    """Free text (one or several), tokens, tokens with their ids, or ids alone."""
    if (text is None) == (tokens is None and ids is None):
        raise ValueError("pass text=, or tokens= and/or ids=")
    if text is not None:
        texts = [text] if isinstance(text, str) else list(text)
        return [{"text": item} for item in texts]
    if tokens is not None and ids is not None:
        return [{"tokens": list(tokens), "doc": [int(i) for i in ids]}]
    if tokens is not None:
        return [{"tokens": list(tokens)}]
    assert ids is not None
    return [{"ids": [int(i) for i in ids]}]


def explain_parameters(**options: Any) -> dict[str, Any]:
    """The options that are set; `None` means: the service's default."""
    return {name: value for name, value in options.items() if value is not None}
