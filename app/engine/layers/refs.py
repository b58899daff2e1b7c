"""Layer references: how the engine names an explainable layer and knows its shape."""

from __future__ import annotations

from dataclasses import dataclass

import keras

from app.engine.layers.tokens import TokenGrid

LayerSpec = str | int | None

IMAGE_RANK = 4  # (batch, height, width, channels)
TEXT_RANK = 3  # (batch, steps, channels)


@dataclass(frozen=True)
class LayerRef:
    """A layer reachable from the top model: its path of names and its output shape."""

    path: tuple[str, ...]
    output_shape: tuple[int | None, ...]
    index: int | None  # position in the top model's `layers`; None inside a nested model
    grid: TokenGrid | None = None  # a token layer of an image model: its patch grid

    @property
    def name(self) -> str:
        return "/".join(self.path)


def output_shape(layer: keras.layers.Layer) -> tuple[int | None, ...] | None:
    """The layer's (first) symbolic output shape, or None when it has none."""
    try:
        output = layer.output
    except (AttributeError, ValueError):
        return None
    if isinstance(output, list | tuple):
        output = output[0]
    return tuple(output.shape)
