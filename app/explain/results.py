"""The answer of an explanation, as plain dataclasses whose field names match the API's
response schemas; each target's row of the engine's batch becomes a `TargetResult` here."""

from __future__ import annotations

from dataclasses import dataclass, field

from app.engine.targets.results import CamBatch
from app.explain.options import ExplainOptions
from app.registry.served import ServedModel


@dataclass
class WeightedSpansResult:
    document: str
    spans: list[tuple[str, list[tuple[int, int]], float]]


@dataclass
class TargetResult:
    target: int
    label: str | None
    score: float
    scale: float
    heatmap: list[list[float]] | list[float]
    overlay: str | None = None
    overlay_bytes: bytes | None = None  # for `Accept: image/*` responses
    weighted_spans: WeightedSpansResult | None = None
    html: str | None = None
    metrics: dict[str, float] | None = None
    completeness_gap: float | None = None
    output: str | None = None  # the output explained
    kind: str = "class"  # "class", "region" or "box": what the target was
    box: list[float] | None = None  # detection: the predicted box explained (image pixels)
    iou: float | None = None  # detection: its IoU with the box asked for
    region_pixels: int | None = None  # segmentation: the region's cells at the output grid


@dataclass
class DetectionResult:
    box: list[float]  # [x0, y0, x1, y1] in the uploaded image's pixels
    class_: int
    label: str | None
    score: float


@dataclass
class ImageSizeResult:
    width: int
    height: int


@dataclass
class ExplanationResult:
    targets: list[TargetResult] = field(default_factory=list)
    image: ImageSizeResult | None = None
    tokens: list[str] | None = None
    segmentation: list[list[int]] | None = None  # argmax class map at the output's grid
    detections: list[DetectionResult] | None = None  # after NMS


@dataclass
class ExplainResult:
    model_id: str
    model_version: str
    method: str
    layer: str
    predictions: list[list[float]]
    explanations: list[ExplanationResult]
    output: str | None = None  # the output explained
    outputs: dict[str, list[list[float]]] | None = None  # several outputs: each (B, n) one


def new_result(
    served: ServedModel, layer: str, cams: CamBatch, options: ExplainOptions
) -> ExplainResult:
    return ExplainResult(
        model_id=served.id,
        model_version=served.card.version,
        method=options.method,
        layer=layer,
        predictions=cams.predictions.tolist(),
        explanations=[],
        output=None if cams.head is None else cams.head.output,
        outputs=vector_outputs(cams),
    )


def vector_outputs(cams: CamBatch) -> dict[str, list[list[float]]] | None:
    """For a model with several outputs, the predictions of each (batch, n) one."""
    if len(cams.outputs) < 2:
        return None
    return {name: values.tolist() for name, values in cams.outputs.items() if values.ndim == 2}


def target_result(
    served: ServedModel, cams: CamBatch, row: int, heatmap: list[float] | list[list[float]]
) -> TargetResult:
    target = int(cams.targets[row])
    head = cams.head
    labels = served.labels_of(None if head is None else head.output)
    return TargetResult(
        target=target,
        label=labels[target] if 0 <= target < len(labels) else None,
        score=float(cams.scores[row]),
        scale=float(cams.scales[row]),
        heatmap=heatmap,
        metrics={name: float(values[row]) for name, values in cams.metrics.items()} or None,
        completeness_gap=None if cams.gaps is None else float(cams.gaps[row]),
        output=None if head is None else head.output,
    )
