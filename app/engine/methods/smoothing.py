"""pytorch-grad-cam's `eigen_smooth`: instead of summing a method's per-channel terms
`C_sk` (`A_sk w_k`, or `g_sk A_sk` for HiRes-CAM, ...) over the channels, project them
on their first principal component (`get_2d_projection`), oriented as Eigen-CAM
(`app.engine.methods.eigen`: along the mean term, where pytorch-grad-cam keeps the SVD's
arbitrary sign).

`CHANNEL_TERMS` maps each method that pytorch-grad-cam smooths this way to its terms
`(B, *spatial, K)` from activations and gradients `(B, *spatial, K)`. Eigen-CAM,
EigenGrad-CAM, KPCA-CAM and FEM compute their own map (pytorch-grad-cam ignores the
flag for them); Score-CAM and Ablation-CAM weigh their selected channels outside the
compiled pass (`smooth_weighted`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from app.engine.methods import gradient
from app.engine.methods.cam import channel_weights
from app.engine.methods.eigen import first_component

Terms = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]


def weighted_terms(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """`A_sk w_k`: activations `(B, *spatial, K)` times weights `(B, K)`."""
    shape = tf.concat(
        [
            tf.shape(weights)[:1],
            tf.ones([len(activations.shape) - 2], tf.int32),
            tf.shape(weights)[-1:],
        ],
        axis=0,
    )
    return activations * tf.reshape(weights, shape)


def gradcam_terms(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    return weighted_terms(activations, channel_weights(gradients))


CHANNEL_TERMS: dict[str, Terms] = {
    "gradcam": gradcam_terms,
    "gradcam++": lambda a, g: weighted_terms(a, gradient.gradcam_plus_plus_weights(a, g)),
    "xgradcam": lambda a, g: weighted_terms(a, gradient.xgradcam_weights(a, g)),
    "hirescam": lambda a, g: g * a,
    "gradcam-elementwise": lambda a, g: tf.nn.relu(g * a),
    "layercam": lambda a, g: tf.nn.relu(g) * a,
    "shapleycam": gradcam_terms,  # on the corrected gradients
    "finercam": gradcam_terms,  # on the gradients of its own score
}
SMOOTHED_OUTSIDE = ("scorecam", "ablationcam")


def eigen_smoothed(terms: Terms) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """The raw map `(B, *spatial)`: the first principal component of `terms(A, g)`."""
    return lambda activations, gradients: first_component(terms(activations, gradients))


def smooth_weighted(activations: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Score-CAM / Ablation-CAM: the first principal component of `A_sk w_k` for
    activations `(N, *spatial, k)` and weights `(N, k)`, `(N, *spatial)` float32."""
    terms = activations * weights.reshape(len(weights), *[1] * (activations.ndim - 2), -1)
    return np.asarray(first_component(tf.constant(terms, tf.float32)), dtype=np.float32)
