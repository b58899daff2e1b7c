"""What a request asks of an explanation: its options and its text inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.engine.evaluation.faithfulness import DEFAULT_STEPS
from app.engine.methods.blackbox import BlackBoxOptions


@dataclass(frozen=True)
class ExplainOptions:
    targets: list[int] | None = None
    layer: int | str | None = None
    relu: bool = True
    counterfactual: bool = False
    score: str | None = None  # None: the model card's default
    method: str = "gradcam"
    max_channels: int | None = None  # None: DEFAULT_MAX_CHANNELS (scorecam, ablationcam)
    metrics: list[str] | None = None  # faithfulness scores to compute (images)
    metric_steps: int = DEFAULT_STEPS
    occlusion_window: int | None = None  # None: an eighth of the input's side
    occlusion_stride: int | None = None  # None: half the window
    rise_masks: int = 2000
    rise_cells: int = 7
    seed: int = 0  # RISE's masks
    colormap: str = "viridis"
    alpha_limit: float = 0.65
    overlay: bool | Literal["layer"] = True  # "layer": the coloured heatmap alone
    overlay_format: str = "auto"  # "auto": JPEG for a JPEG upload, else PNG (overlay_format_for)
    overlay_max_side: int = 1024
    pad_value: int | str | None = None  # None: the model's pad id
    padding: str | None = None  # None: the model's padding side
    interpolation_kind: str = "linear"
    max_tokens: int = 4096  # per instance, after tokenizing (char models make many)

    @property
    def blackbox(self) -> BlackBoxOptions:
        return BlackBoxOptions(
            self.occlusion_window,
            self.occlusion_stride,
            self.rise_masks,
            self.rise_cells,
            self.seed,
        )


@dataclass(frozen=True)
class TextInput:
    text: str | None = None
    tokens: list[str] | None = None
    doc: list[int] | None = None
    ids: list[int] | None = None  # token ids alone: the tokens come from the vocabulary
