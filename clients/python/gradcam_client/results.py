"""Typed results: the service's JSON as dataclasses, heatmaps as numpy arrays.

Overlays stay as their data URL until asked for: decoding a PNG per target costs
more than most callers want when they only read the heatmaps.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Prediction:
    index: int
    label: str | None
    score: float


@dataclass
class WeightedSpans:
    document: str
    spans: list[tuple[str, list[tuple[int, int]], float]]


@dataclass
class TargetExplanation:
    target: int
    label: str | None
    score: float
    scale: float
    heatmap: np.ndarray  # (h, w) for images in [0, 1]; (tokens,) weights for text
    overlay_url: str | None = None
    weighted_spans: WeightedSpans | None = None
    html: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    completeness_gap: float | None = None  # integrated-gradients only
    output: str | None = None  # the output explained
    kind: str = "class"  # what the target was: "class", "region" or "box"
    box: tuple[float, float, float, float] | None = None  # box: the predicted box explained
    iou: float | None = None  # box: its IoU with the box asked for
    region_pixels: int | None = None  # region: its cells at the output's grid

    @cached_property
    def overlay_bytes(self) -> bytes | None:
        """The encoded overlay file (PNG, JPEG or WebP) as the service sent it."""
        if self.overlay_url is None:
            return None
        _, _, payload = self.overlay_url.partition(",")
        return base64.b64decode(payload)

    @cached_property
    def overlay(self) -> Image.Image | None:
        """The overlay as a PIL image (decoded on first access)."""
        data = self.overlay_bytes
        if data is None:
            return None
        image = Image.open(io.BytesIO(data))
        image.load()
        return image

    @property
    def overlay_format(self) -> str | None:
        """ "png", "jpeg" or "webp", from the data URL's media type."""
        if self.overlay_url is None:
            return None
        return self.overlay_url.split(";", 1)[0].removeprefix("data:image/")


@dataclass
class Explanation:
    """One input: its size (images) or tokens (text) and one entry per target."""

    targets: list[TargetExplanation]
    image_size: tuple[int, int] | None = None  # (width, height)
    tokens: list[str] | None = None
    segmentation: np.ndarray | None = None  # (h, w) class map at the output's grid
    detections: list[Detection] | None = None  # after NMS, in the image's pixels


@dataclass(frozen=True)
class Detection:
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in the image's pixels
    cls: int
    label: str | None
    score: float


@dataclass
class ExplainResult:
    model_id: str
    model_version: str
    method: str
    layer: str
    predictions: np.ndarray  # (inputs, classes) model outputs
    explanations: list[Explanation]
    labels: Sequence[str] = ()
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def explanation(self) -> Explanation:
        """The only explanation of a one-input request."""
        if len(self.explanations) != 1:
            raise ValueError(f"{len(self.explanations)} inputs; pick one of .explanations")
        return self.explanations[0]

    def top_k(self, k: int = 5, sample: int = 0) -> list[Prediction]:
        """The k highest predictions of one input, highest first, with their labels."""
        scores = self.predictions[sample]
        order = np.argsort(-scores, kind="stable")[:k]
        return [Prediction(int(i), self.label(int(i)), float(scores[i])) for i in order]

    def label(self, index: int) -> str | None:
        return self.labels[index] if 0 <= index < len(self.labels) else None


@dataclass(frozen=True)
class ModelSummary:
    id: str
    version: str
    task: str
    ready: bool


@dataclass(frozen=True)
class LayerInfo:
    name: str
    index: int | None
    output_shape: tuple[int | None, ...]
    token_grid: tuple[int, int] | None = None  # a transformer's token layer: its patch grid
    prefix_tokens: int | None = None  # and the leading tokens dropped (class, registers)


@dataclass(frozen=True)
class ModelInfo(ModelSummary):
    description: str
    input_shape: tuple[int | None, ...]
    n_classes: int
    labels: tuple[str, ...]
    default_layer: str
    score: str
    device: str
    candidate_layers: tuple[LayerInfo, ...]
    card: dict[str, Any]


def parse_layer(data: dict[str, Any]) -> LayerInfo:
    grid = data.get("token_grid")
    return LayerInfo(
        data["name"],
        data.get("index"),
        tuple(data["output_shape"]),
        None if grid is None else (int(grid[0]), int(grid[1])),
        data.get("prefix_tokens"),
    )


def parse_summary(data: dict[str, Any]) -> ModelSummary:
    return ModelSummary(data["id"], data["version"], data["task"], bool(data["ready"]))


def parse_model(data: dict[str, Any]) -> ModelInfo:
    return ModelInfo(
        id=data["id"],
        version=data["version"],
        task=data["task"],
        ready=bool(data["ready"]),
        description=data.get("description", ""),
        input_shape=tuple(data["input_shape"]),
        n_classes=int(data["n_classes"]),
        labels=tuple(data.get("labels", ())),
        default_layer=data["default_layer"],
        score=data.get("score", ""),
        device=data.get("device", ""),
        candidate_layers=tuple(parse_layer(layer) for layer in data.get("candidate_layers", ())),
        card=data.get("card", {}),
    )


def parse_explain(data: dict[str, Any], labels: Sequence[str] = ()) -> ExplainResult:
    return ExplainResult(
        model_id=data["model_id"],
        model_version=data["model_version"],
        method=data.get("method", "gradcam"),
        layer=data["layer"],
        predictions=np.asarray(data["predictions"], dtype=np.float64),
        explanations=[parse_explanation(item) for item in data["explanations"]],
        labels=labels,
        metrics=data.get("metrics") or {},
        raw=data,
    )


def parse_explanation(data: dict[str, Any]) -> Explanation:
    size = data.get("image")
    segmentation = data.get("segmentation")
    detections = data.get("detections")
    return Explanation(
        targets=[parse_target(item) for item in data["targets"]],
        image_size=(size["width"], size["height"]) if size else None,
        tokens=data.get("tokens"),
        segmentation=None if segmentation is None else np.asarray(segmentation, dtype=np.int64),
        detections=None if detections is None else [parse_detection(item) for item in detections],
    )


def parse_detection(data: dict[str, Any]) -> Detection:
    x0, y0, x1, y1 = (float(v) for v in data["box"])
    cls = data["class"] if "class" in data else data["class_"]  # JSON, or a local dataclass
    return Detection((x0, y0, x1, y1), int(cls), data.get("label"), float(data["score"]))


def parse_target(data: dict[str, Any]) -> TargetExplanation:
    spans = data.get("weighted_spans")
    return TargetExplanation(
        target=int(data["target"]),
        label=data.get("label"),
        score=float(data["score"]),
        scale=float(data["scale"]),
        heatmap=np.asarray(data["heatmap"], dtype=np.float32),
        overlay_url=data.get("overlay"),
        weighted_spans=parse_spans(spans) if spans else None,
        html=data.get("html"),
        metrics=data.get("metrics") or {},
        completeness_gap=data.get("completeness_gap"),
        output=data.get("output"),
        kind=data.get("kind", "class"),
        box=None if data.get("box") is None else tuple(float(v) for v in data["box"]),  # type: ignore[arg-type]
        iou=data.get("iou"),
        region_pixels=data.get("region_pixels"),
    )


def parse_spans(data: dict[str, Any]) -> WeightedSpans:
    spans = [
        (str(word), [(int(start), int(end)) for start, end in where], float(weight))
        for word, where, weight in data["spans"]
    ]
    return WeightedSpans(data["document"], spans)
