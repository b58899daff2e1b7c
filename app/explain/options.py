"""What a request asks of an explanation: its options and its text inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from app.engine.evaluation.faithfulness import DEFAULT_STEPS
from app.engine.methods.blackbox import BlackBoxOptions
from app.engine.methods.options import DEFAULT_OPTIONS, CamOptions
from app.engine.methods.pixel.options import PixelOptions


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
    layer: int | str | list[int | str] | None = None  # a list: several target layers
    relu: bool = True
    counterfactual: bool = False
    score: str | None = None  # None: the model card's default
    method: str = "gradcam"
    max_channels: int | None = None  # None: DEFAULT_MAX_CHANNELS (scorecam, ablationcam)
    metrics: list[str] | None = None  # faithfulness scores to compute (images)
    metric_steps: int = DEFAULT_STEPS
    samples: int = 20  # smoothgrad
    noise: float = 0.2  # smoothgrad
    seed: int | None = None  # smoothgrad (None: random) and RISE's masks (None: 0)
    steps: int = 32  # integrated-gradients
    baseline: str | None = None  # integrated-gradients on images; None: black
    occlusion_window: int | None = None  # None: an eighth of the input's side
    occlusion_stride: int | None = None  # None: half the window
    rise_masks: int = 2000
    rise_cells: int = 7
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
    # pytorch-grad-cam's options; None: its default (app.engine.methods.options)
    eigen_smooth: bool = False
    aug_smooth: bool = False
    kpca_kernel: str | None = None
    kpca_gamma: float | None = None
    fem_k: float | None = None
    finer_alpha: float | None = None
    finer_comparison: list[int] | None = None

    def cam_options(self) -> CamOptions:
        """The options of the CAM method, part of its compiled function's key."""
        defaults = DEFAULT_OPTIONS
        return CamOptions(
            eigen_smooth=self.eigen_smooth,
            aug_smooth=self.aug_smooth,
            kpca_kernel=self.kpca_kernel or defaults.kpca_kernel,
            kpca_gamma=self.kpca_gamma,
            fem_k=defaults.fem_k if self.fem_k is None else self.fem_k,
            finer_alpha=defaults.finer_alpha if self.finer_alpha is None else self.finer_alpha,
            finer_comparison=(
                defaults.finer_comparison
                if self.finer_comparison is None
                else tuple(self.finer_comparison)
            ),
        )

    @property
    def pixel(self) -> PixelOptions:
        """The pixel-level methods' options (`app.engine.methods.pixel.options`)."""
        return PixelOptions(self.samples, self.noise, self.seed, self.steps, self.baseline)

    @property
    def blackbox(self) -> BlackBoxOptions:
        return BlackBoxOptions(
            self.occlusion_window,
            self.occlusion_stride,
            self.rise_masks,
            self.rise_cells,
            0 if self.seed is None else self.seed,
        )


@dataclass(frozen=True)
class TextInput:
    text: str | None = None
    tokens: list[str] | None = None
    doc: list[int] | None = None
    ids: list[int] | None = None  # token ids alone: the tokens come from the vocabulary
