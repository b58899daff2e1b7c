"""The heads a card gives a model's outputs, checked against the loaded model.

One table per explained output (`[outputs.<name>]`), or the card's `head` on its default
output; a head the model's outputs contradict refuses the model at load, naming why.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import keras

from app.engine.capture.frozen.model import FrozenModel
from app.engine.layers.graph import output_shapes
from app.engine.targets.heads import Head
from app.engine.targets.table import DetectionSpec, HeadMismatch, Shape, make_head
from app.errors import ModelError, UnknownOutput
from app.registry.card import ModelCard
from app.registry.text_specs import read_card_entries


@dataclass(frozen=True)
class ServedHeads:
    heads: dict[str, Head]  # output name -> its head
    labels: dict[str, tuple[str, ...]]  # output name -> its labels (may be empty)
    default: str  # the output a target naming none explains

    def head(self, output: str | None) -> Head:
        name = self.default if output is None else output
        if name not in self.heads:
            raise UnknownOutput(
                f"output {name!r} is not explained; outputs: {', '.join(self.heads)}"
            )
        return self.heads[name]


def card_heads(
    models_dir: Path,
    card: ModelCard,
    shapes: Mapping[str, Shape],
    input_size: tuple[int, int] | None,
    labels: tuple[str, ...],
) -> ServedHeads:
    """The heads of `card` on a model whose outputs have `shapes` (by name)."""
    spec = None if card.detection is None else DetectionSpec(**card.detection.model_dump())
    tables = {name: (config.head, config.labels_file) for name, config in card.outputs.items()}
    if not tables:
        default = card.default_output or (spec.scores_output if spec else next(iter(shapes)))
        tables = {default: (card.head, None)}
    heads: dict[str, Head] = {}
    found: dict[str, tuple[str, ...]] = {}
    for name, (kind, labels_file) in tables.items():
        try:
            heads[name] = make_head(kind, name, shapes, input_size=input_size, detection=spec)
        except HeadMismatch as exc:
            raise ModelError(f"model {card.id}: head of output {name!r}: {exc}") from exc
        own = read_card_entries(models_dir, card, labels_file) if labels_file else None
        found[name] = own if own is not None else labels
    return ServedHeads(heads, found, card.default_output or next(iter(tables)))


def model_output_shapes(model: keras.Model | FrozenModel) -> dict[str, tuple[int | None, ...]]:
    """Every output's static shape by name (a SavedModel: the signature's output keys)."""
    return model.output_shapes if isinstance(model, FrozenModel) else output_shapes(model)


def input_size(model: keras.Model | FrozenModel) -> tuple[int, int] | None:
    """(W, H) of an image model's input, when fixed."""
    if isinstance(model, FrozenModel):
        if model.decoded is None and len(model.input_spec.shape) != 4:
            return None
        height, width = model.image_size
    else:
        shape = tuple(model.inputs[0].shape)
        height, width = (shape[1], shape[2]) if len(shape) == 4 else (None, None)
    return None if height is None or width is None else (int(width), int(height))
