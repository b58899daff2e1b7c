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
from app.registry.policy import parse_policy

CARD_FILE = "model.toml"
SAVED_MODEL_FILE = "saved_model.pb"  # a folder holding it is a SavedModel
KERAS_SUFFIXES = (".keras", ".h5", ".hdf5")
SCALINGS = ("unit", "symmetric", "raw", "mean_std")
KERAS_PREPROCESS = re.compile(r"^keras\.applications\.[a-z0-9_]+$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ImageConfig(Strict):
    size: tuple[int, int] | None = Field(
        default=None,
        description="(width, height) the model takes; a remote model may leave it to the "
        "input shape its /metadata gives",
    )
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
    vocab_file: str | None = Field(
        default=None, description="one token a line, line i = id i; or a .csv token,id index"
    )
    tokenizer_file: str | None = Field(
        default=None, description="a Keras Tokenizer's to_json(): its words, ids and rules"
    )
    tokenizer: Literal["whitespace", "char"] = "whitespace"
    lowercase: bool = True
    word_filter: Literal["none", "keras"] = Field(
        default="none", description="keras: text_to_word_sequence's words before tokenizing"
    )
    filters: str | None = Field(
        default=None, description='with word_filter = "keras": characters other than its default'
    )
    sequence_length: int | None = Field(default=None, gt=0)
    pad_id: int = 0
    pad_token: str = "<pad>"
    padding: Literal["post", "pre"] = "post"
    truncating: Literal["post", "pre"] | None = Field(
        default=None, description="cut a longer sequence on this side; unset: refuse it (422)"
    )
    oov_id: int = 1
    example: str | None = Field(
        default=None, description="a sample text to try the model on (the page offers it)"
    )

    @model_validator(mode="after")
    def one_vocabulary(self) -> Self:
        if (self.vocab_file is None) == (self.tokenizer_file is None):
            raise ValueError("[text] names exactly one of vocab_file or tokenizer_file")
        if self.filters is not None and self.word_filter != "keras":
            raise ValueError('filters is only read with word_filter = "keras"')
        if self.truncating is not None and self.sequence_length is None:
            raise ValueError("truncating needs a sequence_length to cut to")
        taken = {"tokenizer", "lowercase", "oov_id", "word_filter"} & self.model_fields_set
        if self.tokenizer_file is not None and taken:
            raise ValueError(f"{sorted(taken)} come from the tokenizer_file; leave them out")
        return self


class ArchitectureConfig(Strict):
    name: str = Field(description="a keras.applications constructor, e.g. MobileNetV2")
    weights: str = Field(default="none", description="none (random, seeded), imagenet or a file")
    seed: int = 0
    input_shape: tuple[int, ...] | None = None


class SavedModelConfig(Strict):
    """Which signature of a SavedModel `model_file` is explained, and its tensors."""

    signature: str = "serving_default"
    input_key: str | None = Field(default=None, description="needed when there are several")
    output_key: str | None = Field(default=None, description="needed when there are several")


HeadKind = Literal["classifier", "multilabel", "regression", "segmentation", "detection"]


class OutputConfig(Strict):
    """`[outputs.<name>]`: how one output of a model with several is explained."""

    head: HeadKind = "classifier"
    labels_file: str | None = None


class DetectionConfig(Strict):
    """`[detection]`: the outputs and conventions of a detection model."""

    boxes_output: str = Field(description="the (batch, boxes, 4) output")
    scores_output: str = Field(
        description="the (batch, boxes, classes) per-class scores before any NMS"
    )
    box_format: Literal["xyxy", "xywh", "cxcywh"] = "xyxy"
    box_units: Literal["pixels", "normalized"] = Field(
        default="normalized", description="pixels of the model input, or [0, 1]"
    )
    score_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    iou_threshold: float = Field(default=0.5, ge=0.0, le=1.0)


class ModelCard(Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    version: str = "1"
    task: Literal["image", "text"]
    description: str = ""
    model_file: str | None = Field(
        default=None,
        description="relative to the model folder, or to each version folder; none when a "
        "version folder is itself a SavedModel",
    )
    architecture: ArchitectureConfig | None = None
    labels_file: str | None = None
    default_layer: str | int | None = None
    score: Literal["logit", "output"] = "logit"
    required: bool = True
    version_policy: str | None = Field(
        default=None,
        description="versions kept loaded: latest, latest:N, all or specific:V,...; "
        "null: GRADCAM_MODEL_VERSION_POLICY",
    )
    sha256: dict[str, str] = Field(default_factory=dict)
    saved_model: SavedModelConfig = Field(default_factory=SavedModelConfig)
    trust_graph: bool = Field(
        default=False, description="load a SavedModel without its op allow-list check"
    )
    image: ImageConfig | None = None
    text: TextConfig | None = None
    remote: str | None = Field(
        default=None,
        pattern=r"^https?://[^/\s]+/v1/models/[^/\s:]+(/versions/[0-9]+)?$",
        description="a TF Serving REST or KServe V1 model URL, "
        "http://host:port/v1/models/NAME[/versions/N], instead of a model file",
    )
    remote_input: Literal["b64", "array"] = Field(
        default="b64", description="b64: PNG images; array: the scaled tensor as lists"
    )
    remote_input_key: str | None = Field(
        default=None, description="the signature's input name (else the remote's metadata)"
    )
    remote_batch: PositiveInt = Field(default=64, description="instances per :predict call")
    remote_concurrency: PositiveInt = Field(default=4, description=":predict calls in flight")
    remote_timeout: float = Field(default=30.0, gt=0, description="seconds per :predict call")
    remote_retries: NonNegativeInt = Field(
        default=3, description="retries (with backoff) on 503 or a connection error"
    )

    @model_validator(mode="before")
    @classmethod
    def remote_scores_outputs(cls, data: object) -> object:
        """A remote answers predictions, no logit: its default score is the output."""
        if isinstance(data, dict) and data.get("remote") and "score" not in data:
            return {**data, "score": "output"}
        return data

    head: HeadKind = Field(default="classifier", description="what the default output is")
    default_output: str | None = Field(
        default=None, description="the output a target naming none explains"
    )
    outputs: dict[str, OutputConfig] = Field(
        default_factory=dict, description="[outputs.<name>]: one table per explained output"
    )
    detection: DetectionConfig | None = None

    @model_validator(mode="after")
    def consistent_heads(self) -> Self:
        detecting = self.head == "detection" or any(
            o.head == "detection" for o in self.outputs.values()
        )
        if detecting and self.detection is None:
            raise ValueError('head = "detection" needs a [detection] table')
        if self.detection is not None and not detecting:
            raise ValueError('[detection] is only read with head = "detection"')
        if (
            self.default_output is not None
            and self.outputs
            and self.default_output not in self.outputs
        ):
            raise ValueError(
                f"default_output {self.default_output!r} has no "
                f"[outputs.{self.default_output}] table"
            )
        if self.remote is not None and (self.head != "classifier" or self.outputs):
            # Its :predict answers one (batch, n) tensor of predictions: no logit maps or
            # boxes to score a region or a box on.
            raise ValueError("a remote model is explained as a classifier: no head or [outputs]")
        return self

    @model_validator(mode="after")
    def consistent(self) -> Self:
        if self.model_file is not None and self.architecture is not None:
            raise ValueError("a card names at most one of model_file or [architecture]")
        if self.remote is not None:
            if self.model_file is not None or self.architecture is not None:
                raise ValueError("a remote model names no model_file or [architecture]")
            if self.task != "image":
                raise ValueError('a remote model is an image model: task = "image"')
            if self.score != "output":
                raise ValueError('a remote model answers predictions: score = "output"')
        if self.version_policy is not None:
            parse_policy(self.version_policy)
        # A SavedModel (a folder named by model_file, or version folders holding
        # saved_model.pb) that decodes encoded images itself needs none (load time).
        keras_file = self.architecture is not None or (
            self.model_file is not None and self.model_file.lower().endswith(KERAS_SUFFIXES)
        )
        if self.task == "image" and self.image is None and keras_file:
            raise ValueError("an image model needs an [image] section")
        if self.remote is None and self.image is not None and self.image.size is None:
            # Only a remote model's /metadata can give it (app/registry/formats/remote).
            raise ValueError("[image] needs size = [width, height]")
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
