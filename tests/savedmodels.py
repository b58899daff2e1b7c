"""SavedModels the tests make at run time: Keras 3 exports, tf-keras, plain tf.Module.

Small and fast (16x16 images, a handful of filters); each builder writes a SavedModel
folder and returns what the tests need to check it against a direct computation.
"""

from __future__ import annotations

import io
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf
from PIL import Image

SIDE = 16


def small_cnn(seed: int = 1) -> keras.Model:
    """conv -> BN -> relu -> conv (named c2) -> pool -> softmax, 16x16x3 -> 3 classes."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIDE, SIDE, 3))
    x = keras.layers.Conv2D(4, 3, name="conv2d")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Activation("relu", name="conv2d_1")(x)
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


def small_text_model(seed: int = 2) -> keras.Model:
    """int32 ids (B, 12) -> Embedding -> Conv1D (named conv) -> max pool -> softmax."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((12,), dtype="int32")
    x = keras.layers.Embedding(20, 8, name="embed")(inputs)
    x = keras.layers.Conv1D(5, 3, padding="same", activation="relu", name="conv")(x)
    x = keras.layers.GlobalMaxPooling1D(name="pool")(x)
    outputs = keras.layers.Dense(2, activation="softmax", name="out")(x)
    return keras.Model(inputs, outputs)


def export_keras3(model: keras.Model, folder: Path) -> Path:
    model.export(str(folder), verbose=False)
    return folder


def save_tf_keras(folder: Path, seed: int = 3) -> object:
    """A tf-keras (Keras 2) Sequential CNN saved with save_format="tf"; returns the model."""
    import tf_keras

    tf_keras.utils.set_random_seed(seed)
    model = tf_keras.Sequential(
        [
            tf_keras.layers.InputLayer(input_shape=(SIDE, SIDE, 3)),
            tf_keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            tf_keras.layers.Conv2D(5, 3, activation="relu", name="c"),
            tf_keras.layers.GlobalAveragePooling2D(name="gap"),
            tf_keras.layers.Dense(3, activation="softmax", name="dense"),
        ]
    )
    model.save(str(folder), save_format="tf")
    return model


class PlainCnn(tf.Module):
    """A CNN written with tf.nn ops: conv (relu) -> spatial mean -> matmul -> softmax."""

    def __init__(self, seed: int = 4) -> None:
        super().__init__()
        rng = np.random.default_rng(seed)
        self.kernel = tf.Variable(rng.normal(size=(3, 3, 3, 5)).astype(np.float32))
        self.weights = tf.Variable(rng.normal(size=(5, 3)).astype(np.float32))

    def features(self, images: tf.Tensor) -> tf.Tensor:
        return tf.nn.relu(tf.nn.conv2d(images, self.kernel, 1, "VALID", name="features"))

    def logits(self, features: tf.Tensor) -> tf.Tensor:
        return tf.matmul(tf.reduce_mean(features, axis=[1, 2]), self.weights)

    @tf.function(input_signature=[tf.TensorSpec([None, SIDE, SIDE, 3], tf.float32)])
    def serve(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": tf.nn.softmax(self.logits(self.features(images)))}


class JpegCnn(PlainCnn):
    """PlainCnn behind a signature taking encoded JPEGs (B,): decoded, resized, / 255."""

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve_bytes(self, encoded: tf.Tensor) -> dict[str, tf.Tensor]:
        return {"probabilities": tf.nn.softmax(self.logits(self.features(decode(encoded))))}


def decode(encoded: tf.Tensor) -> tf.Tensor:
    def one(data: tf.Tensor) -> tf.Tensor:
        image = tf.io.decode_jpeg(data, channels=3)
        return tf.image.resize(tf.cast(image, tf.float32), [SIDE, SIDE]) / 255.0

    return tf.map_fn(one, encoded, fn_output_signature=tf.float32)


class ReadsFiles(PlainCnn):
    """A serving function that reads a file (tf.io.read_file): refused unless trusted."""

    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    @tf.function(input_signature=[tf.TensorSpec([None, SIDE, SIDE, 3], tf.float32)])
    def serve(self, images: tf.Tensor) -> dict[str, tf.Tensor]:
        length = tf.cast(tf.strings.length(tf.io.read_file(self.path)), tf.float32)
        logits = self.logits(self.features(images)) + 0.0 * length
        return {"probabilities": tf.nn.softmax(logits)}


def save_module(module: tf.Module, folder: Path, serve: object) -> Path:
    tf.saved_model.save(module, str(folder), signatures={"serving_default": serve})
    return folder


def direct_gradcam(module: PlainCnn, images: np.ndarray, target: int) -> np.ndarray:
    """Grad-CAM by hand on the module's own ops: relu(sum_k mean(dlogit/dA_k) A_k)."""
    with tf.GradientTape() as tape:
        features = module.features(tf.constant(images))
        tape.watch(features)
        logit = module.logits(features)[:, target]
    gradients = tape.gradient(logit, features)
    weights = tf.reduce_mean(gradients, axis=[1, 2], keepdims=True)
    return np.maximum(tf.reduce_sum(weights * features, axis=-1).numpy(), 0.0)


def jpeg_bytes(seed: int, side: int = 24) -> bytes:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def write_card(folder: Path, model_id: str, body: str) -> Path:
    (folder / "model.toml").write_text(f'id = "{model_id}"\n{body}', encoding="utf-8")
    return folder
