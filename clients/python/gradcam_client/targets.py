"""Target objects (the service's docs/targets.md): a region of a segmentation, a box of a
detection, a class of another output. Each is the JSON object a request's `targets` takes;
pass them to `explain_image(..., targets=[...])`, mixed with class indices if you like."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
from PIL import Image

MaskInput = bytes | Image.Image | np.ndarray


def region_target(cls: int | None, mask: MaskInput, *, output: str | None = None) -> dict[str, Any]:
    """Class `cls` (None: the top one) inside `mask`: a PNG file's bytes, a PIL image or a
    (height, width) array at the uploaded image's size; non-zero = inside."""
    return with_output({"class": cls, "mask": {"b64": png_b64(mask)}}, output)


def box_target(
    cls: int | None, box: tuple[float, float, float, float], *, output: str | None = None
) -> dict[str, Any]:
    """Class `cls` (None: the box's top class) of the predicted box that best matches `box`,
    [x0, y0, x1, y1] in the uploaded image's pixels."""
    x0, y0, x1, y1 = (float(v) for v in box)
    return with_output({"class": cls, "box": [x0, y0, x1, y1]}, output)


def output_target(output: str, cls: int | None = None) -> dict[str, Any]:
    """Class `cls` (None: the top one) of the model's output `output`."""
    return {"output": output, "class": cls}


def with_output(target: dict[str, Any], output: str | None) -> dict[str, Any]:
    return target if output is None else {**target, "output": output}


def png_b64(mask: MaskInput) -> str:
    if isinstance(mask, bytes):
        data = mask
    else:
        image = mask if isinstance(mask, Image.Image) else Image.fromarray(mask_pixels(mask))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        data = buffer.getvalue()
    return base64.b64encode(data).decode("ascii")


def mask_pixels(mask: np.ndarray) -> np.ndarray:
    values = np.asarray(mask)
    return np.where(values != 0, 255, 0).astype(np.uint8)
