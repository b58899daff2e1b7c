"""Model cards: `models/<id>/model.toml`, parsed with tomllib and validated by pydantic."""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
    model_validator,
)

from app.errors import ModelError

CARD_FILE = "model.toml"
SCALINGS = ("unit", "symmetric", "raw", "mean_std")
KERAS_PREPROCESS = re.compile(r"^keras\.applications\.[a-z0-9_]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageConfig(Strict):
    size: tuple[int, int] = Field(description="(width, height) the model takes")
    resize: Literal["nearest", "bilinear", "bicubic", "lanczos", "box", "hamming"] = "bilinear"
    color_mode: Literal["rgb", "grayscale"] = "rgb"
    scaling: str = "unit"
    mean: tuple[float, ...] | None = Field(
        default=None, description='per channel, 0..255 units; only with scaling = "mean_std"'
    )
    std: tuple[float, ...] | None = Field(
        default=None, description='per channel, > 0; only with scaling = "mean_std"'
    )
    token_grid: tuple[PositiveInt, PositiveInt] | None = Field(
        default=None, description="[h, w] patch grid of the token layers (else inferred)"
    )
    prefix_tokens: NonNegativeInt | None = Field(
        default=None, description="leading non-patch tokens of the token layers (class, ...)"
    )

    @model_validator(mode="after")
    def known_scaling(self) -> Self:
        if self.scaling not in SCALINGS and not KERAS_PREPROCESS.match(self.scaling):
            raise ValueError(
                f"scaling must be one of {SCALINGS} or keras.applications.<module>, "
                f"not {self.scaling!r}"
            )
        return self

    @model_validator(mode="after")
    def consistent_mean_std(self) -> Self:
        given = self.mean is not None or self.std is not None
        if self.scaling != "mean_std":
            if given:
                raise ValueError('mean and std are only read with scaling = "mean_std"')
            return self
        if self.mean is None or self.std is None:
            raise ValueError('scaling = "mean_std" needs both mean and std')
        channels = 3 if self.color_mode == "rgb" else 1
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) != channels:
                raise ValueError(
                    f"{name} needs {channels} values for color_mode {self.color_mode!r}, "
                    f"not {len(values)}"
                )
        if not all(math.isfinite(value) for value in (*self.mean, *self.std)):
            raise ValueError("mean and std must be finite numbers")
        if not all(value > 0 for value in self.std):
            raise ValueError("every std value must be > 0")
        return self


class TextConfig(Strict):
    vocab_file: str | None = Field(default=None, description="one token a line, line i = id i")
    tokenizer_file: str | None = Field(
        default=None, description="a Keras Tokenizer's to_json(): its words, ids and rules"
    )
    tokenizer: Literal["whitespace", "char"] = "whitespace"
    lowercase: bool = True
    sequence_length: int | None = Field(default=None, gt=0)
    pad_id: int = 0
    pad_token: str = "<pad>"
    padding: Literal["post", "pre"] = "post"
    oov_id: int = 1

    @model_validator(mode="after")
    def one_vocabulary(self) -> Self:
        if (self.vocab_file is None) == (self.tokenizer_file is None):
            raise ValueError("[text] names exactly one of vocab_file or tokenizer_file")
        taken = {"tokenizer", "lowercase", "oov_id"} & self.model_fields_set
        if self.tokenizer_file is not None and taken:
            raise ValueError(f"{sorted(taken)} come from the tokenizer_file; leave them out")
        return self


class ArchitectureConfig(Strict):
    name: str = Field(description="a keras.applications constructor, e.g. MobileNetV2")
    weights: str = Field(default="none", description="none (random, seeded), imagenet or a file")
    seed: int = 0
    input_shape: tuple[int, ...] | None = None


class ModelCard(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: str = "1"
    task: Literal["image", "text"]
    description: str = ""
    model_file: str | None = None
    architecture: ArchitectureConfig | None = None
    labels_file: str | None = None
    default_layer: str | int | None = None
    score: Literal["logit", "output"] = "logit"
    required: bool = True
    sha256: dict[str, str] = Field(default_factory=dict)
    image: ImageConfig | None = None
    text: TextConfig | None = None

    @model_validator(mode="after")
    def consistent(self) -> Self:
        if (self.model_file is None) == (self.architecture is None):
            raise ValueError("a card names exactly one of model_file or [architecture]")
        if self.task == "image" and self.image is None:
            raise ValueError("an image model needs an [image] section")
        if self.task == "text" and self.text is None:
            raise ValueError("a text model needs a [text] section")
        return self


def read_card(folder: Path) -> ModelCard:
    """Parse and validate `folder/model.toml`; the id must equal the folder name."""
    path = folder / CARD_FILE
    try:
        card = ModelCard.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ModelError(f"model card {path}: cannot be read: {exc}") from exc
    except ValidationError as exc:
        raise ModelError(f"model card {path}: {exc}") from exc
    if card.id != folder.name:
        raise ModelError(f"model card {path}: id {card.id!r} must equal its folder name")
    return card
