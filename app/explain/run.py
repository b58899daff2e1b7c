"""The engine call of an explanation: the model's compiled CAM on prepared inputs."""

from __future__ import annotations

import numpy as np

from app.engine.methods import DEFAULT_MAX_CHANNELS
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.results import CamBatch
from app.errors import InvalidInput
from app.explain.options import ExplainOptions
from app.explain.targets import check_answered, engine_targets, requested_output
from app.registry.served import ServedModel


def require_task(served: ServedModel, task: str) -> None:
    if served.card.task != task:
        raise InvalidInput(
            f"model {served.id} explains {served.card.task} inputs; this request sent {task}"
        )


def run_gradcam(
    served: ServedModel,
    inputs: np.ndarray,
    options: ExplainOptions,
    pixels: np.ndarray | None = None,
    sizes: list[tuple[int, int]] | None = None,
) -> tuple[GradCam, CamBatch]:
    """`pixels` (B, H, W, C) 0..255: images, for integrated-gradients' baseline and the
    black-box methods; `sizes`: each uploaded image's (width, height), for its masks and
    boxes."""
    gradcam = served.gradcam(
        options.layer, options.method, options.cam_options(), requested_output(options.targets)
    )
    targets = engine_targets(options.targets, gradcam.head, sizes)
    cams = gradcam.explain(
        inputs,
        targets,
        relu=options.relu,
        counterfactual=options.counterfactual,
        score=options.score or served.card.score,
        max_channels=options.max_channels or DEFAULT_MAX_CHANNELS,
        pixel=options.pixel,
        baselines=gradcam.baselines(options.pixel, pixels, served.scaling),
        pixels=pixels,
        scaling=served.scaling,
        blackbox=options.blackbox,
    )
    check_answered(gradcam.head, cams, targets)
    return gradcam, cams
