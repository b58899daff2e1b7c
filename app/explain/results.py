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


@dataclass
class ImageSizeResult:
    width: int
    height: int


@dataclass
class ExplanationResult:
    targets: list[TargetResult] = field(default_factory=list)
    image: ImageSizeResult | None = None
    tokens: list[str] | None = None


@dataclass
class ExplainResult:
    model_id: str
    model_version: str
    method: str
    layer: str
    predictions: list[list[float]]
    explanations: list[ExplanationResult]


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
    )


def target_result(
    served: ServedModel, cams: CamBatch, row: int, heatmap: list[float] | list[list[float]]
) -> TargetResult:
    target = int(cams.targets[row])
    return TargetResult(
        target=target,
        label=served.label(target),
        score=float(cams.scores[row]),
        scale=float(cams.scales[row]),
        heatmap=heatmap,
        metrics={name: float(values[row]) for name, values in cams.metrics.items()} or None,
        completeness_gap=None if cams.gaps is None else float(cams.gaps[row]),
    )
