"""Which token layers still pass gradient to their patch tokens (a load-time probe).

In a ViT the head reads only the class token, so from the last block's attention on the
patch tokens no longer reach the output: a Grad-CAM there is all zeros. The probe runs
the model once per token layer (last first) on a seeded random input and returns the
last layer whose patch tokens get a non-zero gradient of a random mix of the outputs.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from app.engine.layers.graph import first_output, replay
from app.engine.layers.refs import LayerRef

PROBE_SEED = 0


def last_layer_with_patch_gradient(model: keras.Model, refs: list[LayerRef]) -> LayerRef | None:
    """The last of `refs` (token layers with a grid, in model order) whose patch tokens
    receive gradient from the model's output; None if none does."""
    rng = np.random.default_rng(PROBE_SEED)
    model_input = model.inputs[0]
    shape = [1, *(dim or 1 for dim in model_input.shape[1:])]
    inputs = tf.constant(rng.uniform(size=shape), dtype=model_input.dtype)
    n_outputs = int(first_output(model.outputs).shape[-1])
    mix = tf.constant(rng.uniform(0.5, 1.5, size=n_outputs), tf.float32)
    for ref in reversed(refs):
        if patch_gradient(model, inputs, mix, ref) > 0:
            return ref
    return None


def patch_gradient(model: keras.Model, inputs: tf.Tensor, mix: tf.Tensor, ref: LayerRef) -> float:
    """max |d(mix . output) / d(patch tokens of `ref`)|; 0 when not connected."""
    assert ref.grid is not None
    captured: dict[str, tf.Tensor] = {}
    with tf.GradientTape() as tape:

        def watch(activations: tf.Tensor) -> tf.Tensor:
            tape.watch(activations)
            captured["tokens"] = activations
            return activations

        outputs = tf.cast(first_output(replay(model, inputs, ref.path, watch)), tf.float32)
        score = tf.reduce_sum(outputs * mix)
    gradient = tape.gradient(score, captured["tokens"])
    if gradient is None:
        return 0.0
    return float(tf.reduce_max(tf.abs(gradient[:, ref.grid.prefix :, :])))
