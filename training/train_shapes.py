"""Train the `shapes` demo image model: `python -m training.train_shapes`.

Writes models/shapes/{model.keras, labels.txt, model.toml}.
"""

import argparse
import time
from pathlib import Path

import keras
import tensorflow as tf

from training.keras_files import file_sha256, save_for_serving
from training.shapes_data import IMAGE_SIZE, LABELS
from training.shapes_training import batches, optimizer, training_set

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "shapes"
TARGET_LAYER = "last_conv"
SEED = 2024
N_SINGLE = 24_000
N_TWO = 8_000
EPOCHS = 3
BATCH_SIZE = 128
LEARNING_RATE = 2e-3

CARD_TEMPLATE = """\
id = "shapes"
version = "1"
task = "image"
description = "A small CNN trained here on generated 64x64 images of one shape."
model_file = "model.keras"
labels_file = "labels.txt"
default_layer = "{layer}"
score = "logit"

[sha256]
"model.keras" = "{model_sha}"

[image]
size = [{size}, {size}]
resize = "bilinear"
color_mode = "rgb"
scaling = "unit"
"""


def conv(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    return keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=name)(x)


def normalised_conv(x: keras.KerasTensor, filters: int, name: str) -> keras.KerasTensor:
    """Conv -> BatchNorm -> ReLU: BatchNorm shortens the initial loss plateau."""
    x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


def build_model() -> keras.Model:
    """Six 3x3 convs at three resolutions (64, 32, 16), `last_conv` at 16x16, GAP, Dense.

    Global average pooling straight after `last_conv` makes its logit gradient the
    same at every position, so Grad-CAM with score "logit" is exactly CAM: the map is
    each cell's own evidence for the class.
    """
    pixels = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="pixels")
    # No BatchNorm at 64x64: on CPU it would double the cost of a training step.
    x = conv(pixels, 16, "conv1")
    x = keras.layers.MaxPooling2D(name="pool1")(x)
    x = normalised_conv(x, 32, "conv2")
    x = normalised_conv(x, 32, "conv3")
    x = keras.layers.MaxPooling2D(name="pool2")(x)
    x = normalised_conv(x, 64, "conv4")
    x = normalised_conv(x, 64, "conv5")
    x = conv(x, 64, TARGET_LAYER)
    pooled = keras.layers.GlobalAveragePooling2D(name="average_evidence")(x)
    scores = keras.layers.Dense(len(LABELS), activation="softmax", name="class_scores")(pooled)
    return keras.Model(pixels, scores, name="shapes")


def train(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    # Costs nothing measurable here and makes a retrain reproduce the file byte for byte.
    tf.config.experimental.enable_op_determinism()
    images, targets = training_set(seed, N_SINGLE, N_TWO)
    steps = EPOCHS * -(-len(images) // BATCH_SIZE)
    model = build_model()
    model.compile(
        optimizer(steps, LEARNING_RATE), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    # shuffle=False: the dataset reshuffles itself each epoch (seeded).
    model.fit(batches(images, targets, seed, BATCH_SIZE), epochs=EPOCHS, shuffle=False, verbose=2)
    return model


def save_model(model: keras.Model, path: Path) -> None:
    save_for_serving(model, build_model(), path)


def write_card(model_dir: Path) -> None:
    model_sha = file_sha256(model_dir / "model.keras")
    card = CARD_TEMPLATE.format(layer=TARGET_LAYER, model_sha=model_sha, size=IMAGE_SIZE)
    (model_dir / "model.toml").write_text(card)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args()
    started = time.perf_counter()
    model = train(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    save_model(model, args.out / "model.keras")
    (args.out / "labels.txt").write_text("\n".join(LABELS) + "\n")
    write_card(args.out)
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    print(f"trained {EPOCHS} epochs in {int(minutes)} min {seconds:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
