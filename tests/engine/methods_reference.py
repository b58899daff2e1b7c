"""Independent numpy implementations of the CAM methods (cam-methods.md), and an eager
capture of activations and gradients to feed them."""

import keras
import numpy as np
import tensorflow as tf


def capture(model, layer_name, inputs, targets):
    """Activations and gradients of the target logits at `layer_name`, by an eager tape
    over the layers of a flat functional model (last layer: a softmax Dense)."""
    names = [layer.name for layer in model.layers]
    body = keras.Model(model.inputs, model.get_layer(layer_name).output)
    tail = model.layers[names.index(layer_name) + 1 :]
    activations = body(inputs)
    with tf.GradientTape() as tape:
        tape.watch(activations)
        x = activations
        for layer in tail[:-1]:
            x = layer(x)
        logits = tf.matmul(x, tail[-1].kernel) + tail[-1].bias
        scores = tf.gather(logits, targets, axis=1, batch_dims=1)
    gradients = tape.gradient(scores, activations)
    return activations.numpy().astype(np.float64), gradients.numpy().astype(np.float64)


def spatial(a):
    return tuple(range(1, a.ndim - 1))


def weighted(a, w):
    return np.einsum("b...k,bk->b...", a, w)


def gradcam(a, g):
    return weighted(a, g.mean(axis=spatial(g)))


def gradcam_plus_plus(a, g):
    sums = a.sum(axis=spatial(a), keepdims=True)
    numerator = g**2
    denominator = 2 * g**2 + sums * g**3
    alpha = np.zeros_like(g)
    nonzero = denominator != 0
    alpha[nonzero] = numerator[nonzero] / denominator[nonzero]
    return weighted(a, (alpha * np.maximum(g, 0)).sum(axis=spatial(g)))


def xgradcam(a, g):
    w = (g * a).sum(axis=spatial(a)) / (a.sum(axis=spatial(a)) + 1e-7)
    return weighted(a, w)


def first_component(x):
    maps = []
    for sample in x:
        flat = sample.reshape(-1, sample.shape[-1])
        centred = flat - flat.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        direction = vt[0] if (flat @ vt[0]).sum() >= 0 else -vt[0]
        maps.append((centred @ direction).reshape(sample.shape[:-1]))
    return np.stack(maps)


GRADIENT_METHODS = {
    "gradcam": gradcam,
    "gradcam++": gradcam_plus_plus,
    "xgradcam": xgradcam,
    "hirescam": lambda a, g: (g * a).sum(axis=-1),
    "gradcam-elementwise": lambda a, g: np.maximum(g * a, 0).sum(axis=-1),
    "layercam": lambda a, g: (np.maximum(g, 0) * a).sum(axis=-1),
    "eigengradcam": lambda a, g: first_component(g * a),
    "eigencam": lambda a, g: first_component(a),
}


def top_channels(a, count):
    """Per sample, the `count` channels of largest spatial std, ties by lower index."""
    std = a.reshape(len(a), -1, a.shape[-1]).std(axis=1)
    return np.stack([np.argsort(-row, kind="stable")[:count] for row in std])


def upsample(maps, size):
    """Bilinear (TensorFlow's half-pixel resize) of (M, *S) maps to `size` (1 or 2 axes)."""
    if maps.ndim == 2:
        return tf.image.resize(maps[:, :, None, None], (size[0], 1)).numpy()[:, :, 0, 0]
    return tf.image.resize(maps[..., None], size).numpy()[..., 0]


def min_max(masks):
    axes = tuple(range(1, masks.ndim))
    low, high = masks.min(axis=axes, keepdims=True), masks.max(axis=axes, keepdims=True)
    return (masks - low) / (high - low + 1e-7)


def weighted_selected(a, channels, weights):
    return np.stack(
        [np.einsum("...k,k->...", a[b][..., channels[b]], weights[b]) for b in range(len(a))]
    )


def scorecam(a, channels, masked_score):
    """`masked_score(b, masks (k, *X)) -> (k,)` scores the input of sample b under masks."""
    weights = []
    for b in range(len(a)):
        maps = np.moveaxis(a[b][..., channels[b]], -1, 0)
        scores = masked_score(b, maps)
        exp = np.exp(scores - scores.max())
        weights.append(exp / exp.sum())
    return weighted_selected(a, channels, np.stack(weights))


def ablationcam(a, channels, base, ablated_score):
    """`ablated_score(b, k) -> y_k`; `base` (B,) the unablated score."""
    weights = np.array(
        [
            [(base[b] - ablated_score(b, k)) / (abs(base[b]) + 1e-7) for k in row]
            for b, row in enumerate(channels)
        ]
    )
    return weighted_selected(a, channels, weights)
