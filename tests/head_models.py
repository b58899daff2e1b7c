"""Small models of every head, built in fixtures: the shapes of models/shapes_seg and
models/shapes_det at 16x16, random weights and (briefly) trained.

Each final activation is a named `Activation` layer, so the logit is its input; the
reference computations below read it directly from a Keras sub-model and a tape.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

SIDE = 16
SEG_CLASSES = 5
DET_BOXES = 16
DET_CLASSES = 4


def segmentation_model(seed: int = 1) -> keras.Model:
    """16x16x3 -> conv -> conv (stride 2, named feat) -> 1x1 conv -> softmax (8, 8, 5)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(6, 3, padding="same", activation="relu", name="conv")(inputs)
    x = keras.layers.Conv2D(8, 3, strides=2, padding="same", activation="relu", name="feat")(x)
    x = keras.layers.Conv2D(SEG_CLASSES, 1, name="classes")(x)
    outputs = keras.layers.Activation("softmax", name="segmentation")(x)
    return keras.Model(inputs, outputs, name="tiny_seg")


def detection_model(seed: int = 2) -> keras.Model:
    """16x16x3 -> conv (named feat) -> 4x4 cells of 16 boxes: `boxes` (B, 16, 4) cxcywh
    in [0, 1] and `scores` (B, 16, 4) per-class sigmoids."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="feat")(inputs)
    x = keras.layers.Conv2D(8, 4, strides=4, activation="relu", name="cells")(x)
    x = keras.layers.Reshape((DET_BOXES, 8), name="flat")(x)
    boxes = keras.layers.Activation("sigmoid", name="boxes")(
        keras.layers.Dense(4, name="box_raw")(x)
    )
    scores = keras.layers.Dense(DET_CLASSES, name="score_raw")(x)
    scores = keras.layers.Activation("sigmoid", name="scores")(scores)
    return keras.Model(inputs, [boxes, scores], name="tiny_det")


def vector_model(kind: str, seed: int = 3) -> keras.Model:
    """16x16x3 -> conv (named feat) -> pool -> 3 sigmoid labels, or 2 linear values."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(6, 3, activation="relu", name="feat")(inputs)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    if kind == "multilabel":
        x = keras.layers.Dense(3, name="label_raw")(x)
        outputs = keras.layers.Activation("sigmoid", name="labels")(x)
    else:
        outputs = keras.layers.Dense(2, name="values")(x)
    return keras.Model(inputs, outputs, name=f"tiny_{kind}")


def two_output_text_model(seed: int = 4) -> keras.Model:
    """ids (B, 10) -> Embedding -> Conv1D (named conv) -> pool -> `sentiment` softmax (2)
    and `topics` sigmoid (3)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((10,), dtype="int32")
    x = keras.layers.Embedding(30, 8, name="embed")(inputs)
    x = keras.layers.Conv1D(6, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    sentiment = keras.layers.Activation("softmax", name="sentiment")(keras.layers.Dense(2)(x))
    topics = keras.layers.Activation("sigmoid", name="topics")(keras.layers.Dense(3)(x))
    return keras.Model(inputs, [sentiment, topics], name="two_heads")


def scenes(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Images (count, 16, 16, 3) in [0, 1] with one bright square each; its class map
    (count, 8, 8): 1 + the square's colour channel inside it, 0 outside."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0.0, 0.2, (count, SIDE, SIDE, 3)).astype(np.float32)
    labels = np.zeros((count, SIDE // 2, SIDE // 2), np.int64)
    for n in range(count):
        x, y = rng.integers(0, SIDE - 6, 2)
        channel = int(rng.integers(0, 3))
        images[n, y : y + 6, x : x + 6, channel] = 1.0
        labels[n, y // 2 : (y + 6) // 2, x // 2 : (x + 6) // 2] = 1 + channel
    return images, labels


def trained_segmentation_model(epochs: int = 30) -> keras.Model:
    """The segmentation model trained briefly on `scenes`."""
    model = segmentation_model()
    images, labels = scenes(128)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy")
    model.fit(images, labels, epochs=epochs, batch_size=32, verbose=0)
    return model


def sub_model(model: keras.Model, layer: str, logit_of: list[str]) -> keras.Model:
    """`model`'s input -> (the layer's output, the inputs of the named output activations)."""
    logits = [model.get_layer(name).input for name in logit_of]
    return keras.Model(model.inputs, [model.get_layer(layer).output, *logits])


def tape_gradcam(
    model: keras.Model, layer: str, logit_of: list[str], inputs: np.ndarray, score_fn: object
) -> tuple[np.ndarray, np.ndarray]:
    """(score (N,), Grad-CAM relu(sum_k mean_s(dS/dA_k) A_k) (N, h, w)) by a direct tape:
    `score_fn(*logits)` -> (N,) on the sub-model's logits."""
    sub = sub_model(model, layer, logit_of)
    with tf.GradientTape() as tape:
        activations, *logits = sub(tf.constant(inputs))
        logits = [tf.cast(t, tf.float32) for t in logits]
        score = score_fn(*logits)  # type: ignore[operator]
    gradients = tape.gradient(score, activations)
    weights = tf.reduce_mean(gradients, axis=[1, 2])
    cam = tf.nn.relu(tf.einsum("bhwc,bc->bhw", activations, weights))
    return score.numpy(), cam.numpy()
