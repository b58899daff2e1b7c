"""What a request asks of an explanation: its options and its text inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.engine.evaluation.faithfulness import DEFAULT_STEPS


@dataclass(frozen=True)
class RequestTarget:
    """A target object of a request (docs/targets.md), before it meets the images."""

    cls: int | None = None  # None: the top class
    output: str | None = None  # None: the card's default output
    mask: bytes | None = None  # PNG bytes at the uploaded image's size
    box: tuple[float, float, float, float] | None = None  # uploaded image's pixels


@dataclass(frozen=True)
class ExplainOptions:
    targets: list[int | RequestTarget] | None = None
    layer: int | str | None = None
    relu: bool = True
    counterfactual: bool = False
    score: str | None = None  # None: the model card's default
    method: str = "gradcam"
    max_channels: int | None = None  # None: DEFAULT_MAX_CHANNELS (scorecam, ablationcam)
    metrics: list[str] | None = None  # faithfulness scores to compute (images)
    metric_steps: int = DEFAULT_STEPS
    colormap: str = "viridis"
    alpha_limit: float = 0.65
    overlay: bool | Literal["layer"] = True  # "layer": the coloured heatmap alone
    overlay_format: str = "auto"  # "auto": JPEG for a JPEG upload, else PNG (overlay_format_for)
    overlay_max_side: int = 1024
    pad_value: int | str | None = None  # None: the model's pad id
    padding: str | None = None  # None: the model's padding side
    interpolation_kind: str = "linear"
    max_tokens: int = 4096  # per instance, after tokenizing (char models make many)
    draw_targets: bool = False  # overlays: outline each target's region or box


@dataclass(frozen=True)
class TextInput:
    text: str | None = None
    tokens: list[str] | None = None
    doc: list[int] | None = None
    ids: list[int] | None = None  # token ids alone: the tokens come from the vocabulary
