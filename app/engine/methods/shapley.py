"""ShapleyCAM (Cai et al. 2025), as pytorch-grad-cam 1.5.7's `ShapleyCAM`: Grad-CAM with
the gradient corrected by the Hessian-vector product, `w_k = mean_s (g - H A / 2)_sk`.

`H A` is `d (g . A) / d A` with `A` held constant in the product (pytorch-grad-cam's
`autograd.grad(grads, activations, grad_outputs=activations)`): a second derivative of
the score, taken inside the compiled pass. For a model that is piecewise linear after the
layer (ReLU, pooling, Dense) with `score=logit`, `H A = 0` and ShapleyCAM equals Grad-CAM.
"""

from __future__ import annotations

import tensorflow as tf


def shapley_gradients(activations: tf.Tensor, gradients: tf.Tensor) -> tf.Tensor:
    """`g - H A / 2`, `(B, *spatial, K)`, for the captured `activations` and their
    `gradients` (graph tensors of the same compiled pass, not yet cast)."""
    product = tf.gradients(gradients, activations, grad_ys=tf.stop_gradient(activations))[0]
    if product is None:  # the gradient does not depend on the activations
        return gradients
    return gradients - 0.5 * tf.cast(product, gradients.dtype)
