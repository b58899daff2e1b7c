"""Train the `shapes_seg` demo segmentation model: `python -m training.train_shapes_seg`.

Writes models/shapes_seg/{model.keras, labels.txt, model.toml}.
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.scene_training import (
    MODELS_DIR,
    conv,
    normalised_conv,
    optimizer,
    report_time,
    seed_everything,
    write_model_folder,
)
from training.shapes_data import IMAGE_SIZE, LABELS
from training.shapes_scenes import make_scenes

SEG_LABELS = ("background", *LABELS)
TARGET_LAYER = "decoder64"
SEED = 2026
N_SCENES = 8_000
EPOCHS = 4
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
DESCRIPTION = "A small U-Net trained here on generated 64x64 scenes of 1-3 shapes."


def build_model() -> keras.Model:
    """A small U-Net: encoder 64 -> 32 -> 16 (dilated at 16), decoder back to 64 with skips.

    The class logits are a 1x1 conv of `decoder64`, so a region target's gradient at
    `decoder64` is the class's 1x1 kernel on the region's pixels and zero elsewhere.
    """
    pixels = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="pixels")
    # No BatchNorm at 64x64: on CPU it would double the cost of a training step.
    e64 = conv(pixels, 16, "enc64")
    x = keras.layers.MaxPooling2D(name="pool64")(e64)
    x = normalised_conv(x, 32, "enc32a")
    e32 = normalised_conv(x, 32, "enc32b")
    x = keras.layers.MaxPooling2D(name="pool32")(e32)
    x = normalised_conv(x, 64, "enc16a")
    # Dilations 2 and 4: a 16x16 cell sees ~70 px, the largest shape with all its edges.
    x = normalised_conv(x, 64, "enc16b", dilation=2)
    x = normalised_conv(x, 64, "enc16c", dilation=4)
    # 1x1 reductions before each upsampling: the 3x3 convs at 32 and 64 px dominate the cost.
    x = keras.layers.Conv2D(32, 1, activation="relu", name="reduce16")(x)
    x = keras.layers.UpSampling2D(interpolation="bilinear", name="up32")(x)
    x = keras.layers.Concatenate(name="skip32")([x, e32])
    x = normalised_conv(x, 32, "decoder32")
    x = keras.layers.Conv2D(16, 1, activation="relu", name="reduce32")(x)
    x = keras.layers.UpSampling2D(interpolation="bilinear", name="up64")(x)
    x = keras.layers.Concatenate(name="skip64")([x, e64])
    x = conv(x, 16, TARGET_LAYER)
    logits = keras.layers.Conv2D(len(SEG_LABELS), 1, name="class_logits")(x)
    probabilities = keras.layers.Activation("softmax", name="segmentation")(logits)
    return keras.Model(pixels, probabilities, name="shapes_seg")


def batches(images: np.ndarray, masks: np.ndarray, seed: int) -> tf.data.Dataset:
    """Shuffled batches of `images / 255` and int masks (scaled per batch to save memory)."""
    return (
        tf.data.Dataset.from_tensor_slices((images, masks))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(BATCH_SIZE)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255, tf.cast(y, tf.int32)))
        .prefetch(2)
    )


def train(seed: int, n_scenes: int, epochs: int) -> keras.Model:
    seed_everything(seed)
    scenes = make_scenes(n_scenes, seed)
    steps = epochs * -(-n_scenes // BATCH_SIZE)
    model = build_model()
    model.compile(optimizer(steps, LEARNING_RATE), loss="sparse_categorical_crossentropy")
    # shuffle=False: the dataset reshuffles itself each epoch (seeded).
    model.fit(batches(scenes.images, scenes.masks, seed), epochs=epochs, shuffle=False, verbose=2)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODELS_DIR / "shapes_seg")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--scenes", type=int, default=N_SCENES)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    started = time.perf_counter()
    model = train(args.seed, args.scenes, args.epochs)
    card = {"model_id": "shapes_seg", "head": "segmentation", "description": DESCRIPTION}
    write_model_folder(args.out, model, build_model, SEG_LABELS, card | {"layer": TARGET_LAYER})
    report_time(started, args.epochs, args.out)


if __name__ == "__main__":
    main()
