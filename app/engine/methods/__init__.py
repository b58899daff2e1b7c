"""The table of CAM methods: a method is one entry here and one module.

Gradient methods (and Eigen-CAM) are a pure function of the captured activations and
gradients, `(B, *spatial, K)` -> raw map `(B, *spatial)`, run inside the compiled
Grad-CAM pass. Score-CAM and Ablation-CAM weigh channels by forward passes on perturbed
inputs (`app.engine.methods.perturbation`). The attention methods read the attention of
every MultiHeadAttention layer in a compiled pass of their own
(`app.engine.methods.attention`). The pixel-level methods run the gradient at the input
in a compiled pass of their own (`app.engine.methods.pixel`). The black-box methods
(occlusion, RISE) need only the model's scores on perturbed images
(`app.engine.methods.blackbox`): the only ones a remote model, which has no gradient,
can use.
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
from app.engine.methods.fem import fem
from app.engine.methods.finer import TargetScore, finer_score
from app.engine.methods.kpca import kpcacam
from app.engine.methods.occlusion import occlusion_map
from app.engine.methods.options import CamOptions, check_cam_options
from app.engine.methods.perturbation import ModelContext, Perturbation
from app.engine.methods.pixel import table as pixel
from app.engine.methods.pixel.runner import PixelMethod
from app.engine.methods.rise import rise_map
from app.engine.methods.scorecam import ScoreCam, scorecam_weights
from app.engine.methods.shapley import shapley_gradients
from app.engine.methods.smoothing import CHANNEL_TERMS, SMOOTHED_OUTSIDE, eigen_smoothed
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
    configured: Callable[[CamOptions], RawMap] | None = None  # in-graph, with parameters
    corrected_gradients: RawMap | None = None  # (A, g) -> the gradients raw_map sees
    target_score: Callable[[CamOptions], TargetScore] | None = None  # its own score
    pixel: PixelMethod | None = None  # pixel-level: the gradient at the input
    signed: bool = True  # False: a map of |gradient|, which counterfactual cannot flip
    blackbox: BlackBoxMap | None = None  # scores of perturbed images only (image models)

    def map_for(self, options: CamOptions) -> RawMap | None:
        """The in-graph raw map for `options` (eigen_smooth, parameters); None for the
        perturbation and attention methods."""
        if options.eigen_smooth and self.name in CHANNEL_TERMS:
            return eigen_smoothed(CHANNEL_TERMS[self.name])
        if self.configured is not None:
            return self.configured(options)
        return self.raw_map


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
        Method(
            "kpcacam",
            uses_gradients=False,
            configured=lambda options: kpcacam(options.kpca_kernel, options.kpca_gamma),
        ),
        Method("fem", uses_gradients=False, configured=lambda options: fem(options.fem_k)),
        Method("shapleycam", gradient.gradcam, corrected_gradients=shapley_gradients),
        Method(
            "finercam",
            gradient.gradcam,
            target_score=lambda options: finer_score(options.finer_alpha, options.finer_comparison),
        ),
        Method("attention-rollout", uses_gradients=False, attention=attention_rollout),
        Method("attention-gradcam", attention=attention_gradcam),
        Method("saliency", pixel=pixel.SALIENCY, signed=False),
        Method("smoothgrad", pixel=pixel.SMOOTHGRAD, signed=False),
        Method("integrated-gradients", pixel=pixel.INTEGRATED_GRADIENTS),
        Method("guided-backprop", pixel=pixel.GUIDED_BACKPROP, signed=False),
        Method("guided-gradcam", pixel=pixel.GUIDED_GRADCAM, signed=False),
        Method("fullgrad", pixel=pixel.FULLGRAD, signed=False),
        Method("occlusion", uses_gradients=False, blackbox=occlusion_map),
        Method("rise", uses_gradients=False, blackbox=rise_map),
    )
}
METHOD_NAMES = tuple(METHODS)
ATTENTION_METHODS = tuple(name for name, method in METHODS.items() if method.attention)
PIXEL_METHODS = tuple(name for name, method in METHODS.items() if method.pixel)
BLACKBOX_METHODS = tuple(name for name, method in METHODS.items() if method.blackbox)
CAM_METHOD_NAMES = tuple(
    name
    for name in METHOD_NAMES
    if name not in ATTENTION_METHODS + PIXEL_METHODS + BLACKBOX_METHODS
)
DEFAULT_MAX_CHANNELS = 32


def get_method(name: str) -> Method:
    try:
        return METHODS[name]
    except KeyError:
        raise InvalidInput(
            f"method must be one of {', '.join(METHOD_NAMES)}, not {name!r}"
        ) from None


def check_method_options(method: str, options: CamOptions) -> None:
    """An `InvalidInput` for options out of range or that `method` does not take."""
    check_cam_options(method, options)
    smoothable = (*CHANNEL_TERMS, *SMOOTHED_OUTSIDE)
    if options.eigen_smooth and method not in smoothable:
        raise InvalidInput(
            f"eigen_smooth applies to {', '.join(smoothable)}; method {method} computes its "
            "own map (pytorch-grad-cam ignores the flag for it)"
        )
    if options.aug_smooth and method == "finercam":
        raise InvalidInput(
            "aug_smooth is not defined for finercam (pytorch-grad-cam's FinerCAM has none)"
        )
    if options.aug_smooth and method in PIXEL_METHODS + BLACKBOX_METHODS:
        raise InvalidInput(
            f"aug_smooth is an option of the CAM methods; {method} maps the input's pixels"
        )
    if (options.eigen_smooth or options.aug_smooth) and method in ATTENTION_METHODS:
        raise InvalidInput(
            f"eigen_smooth and aug_smooth are options of the CAM methods, not {method}"
        )


def model_methods(model: keras.Model | FrozenModel) -> tuple[str, ...]:
    """The methods `model` can use: the attention methods need a Keras image model with
    MultiHeadAttention layers (a frozen graph has no layers to recompute them from); the
    pixel-level methods a float input (token ids: integrated-gradients on the embedding);
    the black-box ones an image model that takes pixels."""
    if isinstance(model, FrozenModel):
        spec = model.input_spec
        attention: tuple[str, ...] = ()
        keras_model = False
    else:
        spec = tf.TensorSpec(model.inputs[0].shape, model.inputs[0].dtype)
        image = len(model.inputs[0].shape) == 4
        attention = ATTENTION_METHODS if image and attention_layers(model) else ()
        keras_model = True
    pixels = len(spec.shape) == 4 and spec.dtype.is_floating
    allowed = (
        CAM_METHOD_NAMES
        + attention
        + pixel_methods(spec, keras_model=keras_model)
        + (BLACKBOX_METHODS if pixels else ())
    )
    return tuple(name for name in METHOD_NAMES if name in allowed)


def pixel_methods(spec: tf.TensorSpec, *, keras_model: bool) -> tuple[str, ...]:
    if spec.dtype == tf.string:
        return ()
    floating, image = spec.dtype.is_floating, len(spec.shape) == 4
    return tuple(
        name
        for name in PIXEL_METHODS
        if (method := METHODS[name].pixel) is not None
        and (floating or method.token_ids)
        and (image or not method.image_only)
        and (keras_model or not method.keras_only)
    )
