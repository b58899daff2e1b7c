"""The table of CAM methods: a method is one entry here and one module.

Gradient methods (and Eigen-CAM) are a pure function of the captured activations and
gradients, `(B, *spatial, K)` -> raw map `(B, *spatial)`, run inside the compiled
Grad-CAM pass. Score-CAM and Ablation-CAM weigh channels by forward passes on perturbed
inputs (`app.engine.methods.perturbation`). The attention methods read the attention of
every MultiHeadAttention layer in a compiled pass of their own
(`app.engine.methods.attention`). The black-box methods (occlusion, RISE) need only the
model's scores on perturbed images (`app.engine.methods.blackbox`): the only ones a
remote model, which has no gradient, can use.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
import numpy as np
import tensorflow as tf

from app.engine.capture.frozen.model import FrozenModel
from app.engine.methods import gradient
from app.engine.methods.ablation import AblationCam, ablation_weights
from app.engine.methods.attention import (
    AttentionContext,
    AttentionPass,
    attention_gradcam,
    attention_layers,
    attention_rollout,
)
from app.engine.methods.blackbox import BlackBoxMap
from app.engine.methods.eigen import eigencam
from app.engine.methods.occlusion import occlusion_map
from app.engine.methods.perturbation import ModelContext, Perturbation
from app.engine.methods.rise import rise_map
from app.engine.methods.scorecam import ScoreCam, scorecam_weights
from app.errors import InvalidInput

RawMap = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
ChannelWeights = Callable[[np.ndarray, np.ndarray], np.ndarray]
BuildPerturbation = Callable[[ModelContext], Perturbation]
BuildAttention = Callable[[AttentionContext], AttentionPass]


@dataclass(frozen=True)
class Method:
    name: str
    raw_map: RawMap | None = None  # in-graph methods
    uses_gradients: bool = True
    perturbation: BuildPerturbation | None = None  # forward-only channel weighting
    weights: ChannelWeights | None = None  # (base score (N,), channel scores (N, k)) -> (N, k)
    attention: BuildAttention | None = None  # MultiHeadAttention models only
    blackbox: BlackBoxMap | None = None  # scores of perturbed images only (image models)


def build_scorecam(context: ModelContext) -> Perturbation:
    if context.capture.input_spec.dtype.is_floating:
        return ScoreCam(context, mask_path=None)
    embedding = context.capture.mask_path()
    if embedding is None:
        raise InvalidInput(
            "scorecam masks a float input or an Embedding output; this model has neither"
        )
    return ScoreCam(context, mask_path=embedding)


def build_ablationcam(context: ModelContext) -> Perturbation:
    return AblationCam(context, suffix_only=context.capture.is_cut(context.layer_path))


METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("gradcam", gradient.gradcam),
        Method("gradcam++", gradient.gradcam_plus_plus),
        Method("xgradcam", gradient.xgradcam),
        Method("hirescam", gradient.hirescam),
        Method("gradcam-elementwise", gradient.gradcam_elementwise),
        Method("layercam", gradient.layercam),
        Method("eigengradcam", gradient.eigengradcam),
        Method("eigencam", eigencam, uses_gradients=False),
        Method("scorecam", None, False, build_scorecam, scorecam_weights),
        Method("ablationcam", None, False, build_ablationcam, ablation_weights),
        Method("attention-rollout", uses_gradients=False, attention=attention_rollout),
        Method("attention-gradcam", attention=attention_gradcam),
        Method("occlusion", uses_gradients=False, blackbox=occlusion_map),
        Method("rise", uses_gradients=False, blackbox=rise_map),
    )
}
METHOD_NAMES = tuple(METHODS)
ATTENTION_METHODS = tuple(name for name, method in METHODS.items() if method.attention)
BLACKBOX_METHODS = tuple(name for name, method in METHODS.items() if method.blackbox)
CAM_METHOD_NAMES = tuple(
    name for name in METHOD_NAMES if name not in ATTENTION_METHODS + BLACKBOX_METHODS
)
DEFAULT_MAX_CHANNELS = 32


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise InvalidInput(
            f"method must be one of {', '.join(METHOD_NAMES)}, not {name!r}"
        ) from None


def model_methods(model: keras.Model | FrozenModel) -> tuple[str, ...]:
    """The methods `model` can use: the attention methods need a Keras image model with
    MultiHeadAttention layers (a frozen graph has no layers to recompute them from); the
    black-box ones an image model that takes pixels."""
    if isinstance(model, FrozenModel):
        spec = model.input_spec
        pixels = len(spec.shape) == 4 and spec.dtype.is_floating
        attention = False
    else:
        pixels = len(model.inputs[0].shape) == 4
        attention = pixels and bool(attention_layers(model))
    allowed = (
        CAM_METHOD_NAMES
        + (ATTENTION_METHODS if attention else ())
        + (BLACKBOX_METHODS if pixels else ())
    )
    return tuple(name for name in METHOD_NAMES if name in allowed)
