"""Image instances sent as tensors (KServe V1's nested lists): the model's input as sent,
checked against it, and mapped back to the 0..255 pixels the maps are drawn on.

A tensor instance is what the model takes (what TF Serving's `:predict` takes and what
`remote_input = "array"` sends): height x width x channels numbers after the card's
scaling. Its pixels are the card's scaling undone: every scaling this service knows
(`unit`, `symmetric`, `raw`, `mean_std`, `keras.applications.*.preprocess_input`) is an
affine map of each pixel's channels, read off the scaling itself (its value at black and
at each pure channel) and checked on a random image before it is inverted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from app.errors import InvalidInput

Scaling = Callable[[np.ndarray], np.ndarray]  # (N, H, W, C) 0..255 -> model input
Affine = tuple[np.ndarray, np.ndarray]  # (matrix (C, C), offset (C,)): x @ matrix + offset
# Pixels this far outside 0..255 are float rounding of the scaling and its inverse.
TOLERANCE = 1e-2


@dataclass(frozen=True)
class ImageTensor:
    """An image instance given as numbers (not yet checked against a model)."""

    values: np.ndarray  # as sent, float64
    index: int  # its place among the request's instances, for messages
    key: str | None = None  # the input name of `{"<input>": tensor}`


def parse_tensor(index: int, values: list[object], key: str | None) -> ImageTensor:
    """Nested lists as one array of numbers, or a 422 saying what they are instead."""
    try:
        array = np.asarray(values)
    except ValueError:  # ragged lists
        raise InvalidInput(
            f"instances[{index}] is not a tensor: its lists are not all of one length"
        ) from None
    if array.dtype.kind not in "iuf":
        kind = "true/false" if array.dtype.kind == "b" else "values that are not all numbers"
        raise InvalidInput(f"instances[{index}] is a tensor of numbers; it holds {kind}")
    if array.size == 0:
        raise InvalidInput(f"instances[{index}] is an empty tensor")
    values64 = array.astype(np.float64)
    if not np.isfinite(values64).all():
        raise InvalidInput(
            f"instances[{index}] holds NaN, an infinity or a number past float range"
        )
    return ImageTensor(values64, index, key)


def scaling_affine(scale: Scaling, channels: int) -> Affine | None:
    """The scaling as `pixel @ matrix + offset` per pixel, or None when it is not one."""
    offset = np.asarray(scale(np.zeros((1, 1, 1, channels), np.float32)), np.float64)
    offset = offset.reshape(channels)
    rows = []
    for channel in range(channels):
        pure = np.zeros((1, 1, 1, channels), np.float32)
        pure[..., channel] = 255.0
        value = np.asarray(scale(pure), np.float64).reshape(channels)
        rows.append((value - offset) / 255.0)
    matrix = np.stack(rows)
    probe = np.random.default_rng(0).uniform(0, 255, (1, 4, 4, channels)).astype(np.float32)
    scaled = np.asarray(scale(probe.copy()), np.float64)
    expected = probe.astype(np.float64) @ matrix + offset
    span = max(float(np.abs(expected).max()), 1.0)
    if scaled.shape != expected.shape or not np.allclose(scaled, expected, atol=1e-4 * span):
        return None
    if abs(float(np.linalg.det(matrix))) < 1e-12:
        return None
    return matrix, offset


def tensor_pixels(
    tensor: ImageTensor,
    expected: tuple[int, int, int],
    affine: Affine | None,
    model: str,
    scaling_name: str,
    input_key: str,
) -> np.ndarray:
    """The tensor's pixels `(H, W, C)` 0..255 (float32), checked: the input it names is
    the model's, its shape is the model's `expected` (height, width, channels) and its
    values are what the card's scaling gives for 0..255 pixels."""
    where = f"instances[{tensor.index}]"
    if tensor.key is not None and tensor.key != input_key:
        raise InvalidInput(
            f"{where} names the input {tensor.key!r}; model {model} takes {input_key!r}"
        )
    shape = tensor.values.shape
    if shape != expected:
        raise InvalidInput(
            f"{where} is a tensor of shape {list(shape)}; model {model} takes "
            f"{list(expected)} (height, width, channels)"
        )
    if affine is None:
        raise InvalidInput(
            f"model {model}'s scaling {scaling_name!r} cannot be undone to draw the map on "
            f'pixels: send {where} as an image, {{"b64": ...}}'
        )
    matrix, offset = affine
    pixels = (tensor.values - offset) @ np.linalg.inv(matrix)
    if pixels.min() < -TOLERANCE or pixels.max() > 255 + TOLERANCE:
        low = np.min(tensor.values.reshape(-1, shape[-1]), axis=0)
        high = np.max(tensor.values.reshape(-1, shape[-1]), axis=0)
        raise InvalidInput(
            f"{where} holds values {ranges(low, high)}; model {model} takes "
            f"{ranges(*value_range(affine))} (0..255 pixels after its scaling "
            f"{scaling_name!r})"
        )
    return np.clip(pixels, 0.0, 255.0).astype(np.float32)


def value_range(affine: Affine) -> tuple[np.ndarray, np.ndarray]:
    """Per channel, the least and greatest value the scaling gives 0..255 pixels."""
    matrix, offset = affine
    low = offset + 255.0 * np.minimum(matrix, 0.0).sum(axis=0)
    high = offset + 255.0 * np.maximum(matrix, 0.0).sum(axis=0)
    return low, high


def ranges(low: np.ndarray, high: np.ndarray) -> str:
    """`0..1`, or per channel `[0..1, -1..1, ...]`."""
    pairs = [f"{lo:.4g}..{hi:.4g}" for lo, hi in zip(low, high, strict=True)]
    return pairs[0] if len(set(pairs)) == 1 else "[" + ", ".join(pairs) + "] by channel"
