"""Tiny vision transformers (standard Keras layers only) and an eager reference forward.

`tiny_vit` builds: patch Conv2D (stride = kernel) -> Reshape to tokens -> `prefix`
learned tokens in front (a Dense layer's bias on zeros) -> `blocks` pre-norm blocks
(LayerNormalization, MultiHeadAttention, MLP, residual adds) -> LayerNormalization ->
the first token (or the mean of all tokens when there is no prefix) -> Dense softmax.
"""

import keras
import numpy as np
import tensorflow as tf

WIDTH, HEADS, CLASSES = 8, 2, 3


def block(x, index):
    normed = keras.layers.LayerNormalization(name=f"b{index}_norm1")(x)
    attended = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS, name=f"b{index}_attn")(
        normed, normed
    )
    x = keras.layers.Add(name=f"b{index}_add1")([x, attended])
    normed = keras.layers.LayerNormalization(name=f"b{index}_norm2")(x)
    hidden = keras.layers.Dense(2 * WIDTH, activation="gelu", name=f"b{index}_mlp1")(normed)
    hidden = keras.layers.Dense(WIDTH, name=f"b{index}_mlp2")(hidden)
    return keras.layers.Add(name=f"b{index}_out")([x, hidden])


def tiny_vit(size=(16, 24), patch=4, prefix=1, blocks=2, seed=3, name="tiny_vit"):
    keras.utils.set_random_seed(seed)
    pixels = keras.Input((*size, 3), name="pixels")
    x = keras.layers.Conv2D(WIDTH, patch, strides=patch, name="patches")(pixels)
    x = keras.layers.Reshape((x.shape[1] * x.shape[2], WIDTH), name="patch_tokens")(x)
    if prefix:
        zeros = keras.layers.Rescaling(0.0, name="zeros")(
            keras.layers.GlobalAveragePooling2D(name="pixel_mean")(pixels)
        )
        extra = keras.layers.Dense(prefix * WIDTH, bias_initializer="random_normal")(zeros)
        extra = keras.layers.Reshape((prefix, WIDTH), name="prefix_tokens")(extra)
        x = keras.layers.Concatenate(axis=1, name="tokens")([extra, x])
    for index in range(1, blocks + 1):
        x = block(x, index)
    x = keras.layers.LayerNormalization(name="final_norm")(x)
    if prefix:
        x = keras.layers.Cropping1D((0, x.shape[1] - 1), name="class_output")(x)
        x = keras.layers.Flatten(name="features")(x)
    else:
        x = keras.layers.GlobalAveragePooling1D(name="features")(x)
    outputs = keras.layers.Dense(CLASSES, activation="softmax", name="predictions")(x)
    return keras.Model(pixels, outputs, name=name)


def token_capture(model, layer_name, inputs, targets):
    """Tokens of `layer_name` and the gradient of the target logits with respect to them,
    by one eager tape over a two-output view of the model (no engine code)."""
    head = model.get_layer("predictions")
    view = keras.Model(model.inputs, [model.get_layer(layer_name).output, head.input])
    with tf.GradientTape() as tape:
        tokens, features = view(inputs)
        logits = tf.matmul(features, head.kernel) + head.bias
        scores = tf.gather(logits, targets, axis=1, batch_dims=1)
    gradients = tape.gradient(scores, tokens)
    return tokens.numpy().astype(np.float64), gradients.numpy().astype(np.float64)


def as_grid(tokens, prefix, height, width):
    return tokens[:, prefix:, :].reshape(len(tokens), height, width, tokens.shape[-1])


def blocks_from(model, x, blocks, prefix):
    """The model after its token embedding, eagerly: (logits, attention probabilities)."""
    layer = model.get_layer
    probabilities = []
    for index in range(1, blocks + 1):
        normed = layer(f"b{index}_norm1")(x)
        out, scores = layer(f"b{index}_attn")(normed, normed, return_attention_scores=True)
        probabilities.append(scores)
        x = x + out
        hidden = layer(f"b{index}_mlp1")(layer(f"b{index}_norm2")(x))
        x = x + layer(f"b{index}_mlp2")(hidden)
    x = layer("final_norm")(x)
    features = x[:, 0, :] if prefix else tf.reduce_mean(x, axis=1)
    return tf.matmul(features, layer("predictions").kernel) + layer(
        "predictions"
    ).bias, probabilities


def embedding(model, inputs, prefix):
    start = "tokens" if prefix else "patch_tokens"
    return keras.Model(model.inputs, model.get_layer(start).output)(inputs)


def attention_reference(model, inputs, targets, blocks, prefix):
    """Eager forward of `tiny_vit` with Keras' own `return_attention_scores=True`:
    (probabilities per block (B, heads, T, T), gradients of the target logits w.r.t. them,
    the predictions) as float64 numpy."""
    with tf.GradientTape() as tape:
        logits, probabilities = blocks_from(model, embedding(model, inputs, prefix), blocks, prefix)
        scores = tf.gather(logits, targets, axis=1, batch_dims=1)
    gradients = tape.gradient(scores, probabilities)
    as_numpy = [[t.numpy().astype(np.float64) for t in ts] for ts in (probabilities, gradients)]
    return as_numpy[0], as_numpy[1], tf.nn.softmax(logits).numpy()
