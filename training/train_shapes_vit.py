"""Train the `shapes_vit` demo vision transformer: `python -m training.train_shapes_vit`.

A hybrid ViT: a small convolution stem (stride 8) cuts the 64x64 image into an 8x8 grid
of patch embeddings, a learned class token is put in front of them, and three
pre-norm Transformer blocks (LayerNormalization + MultiHeadAttention + MLP) follow; the
head reads the class token only. Writes models/shapes_vit/{model.keras, labels.txt,
model.toml}: the best epoch by held-out accuracy, saved as soon as it is reached.

Only standard Keras layers, so the file loads with `safe_mode=True`: the class token is
the bias of a Dense layer applied to zeros (`Rescaling(0)` of the pooled pixels).
"""

import argparse
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.keras_files import file_sha256, save_for_serving
from training.shapes_data import IMAGE_SIZE, LABELS, make_shapes
from training.shapes_training import batches, optimizer, training_set

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "shapes_vit"
SEED = 2026
N_SINGLE = 14_000
N_TWO = 4_000
N_HELD_OUT = 1_000
HELD_OUT_SEED = 777
MAX_EPOCHS = 14
# Stop once the held-out accuracy is this high (the goal is 95 %: margin for other sets).
STOP_ACCURACY = 0.985
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
WIDTH, HEADS, MLP_WIDTH, BLOCKS = 64, 4, 128, 3
# Stem kernels: 2x2 stride-2 convs and a 1x1 projection see exactly the token's own 8x8
# patch (no overlap), so a token next to a shape does not carry the shape's edge.
STEM_KERNEL, PATCH_KERNEL = 2, 1
MIN_EPOCHS = 6

CARD_TEMPLATE = """\
id = "shapes_vit"
version = "1"
task = "image"
description = "A small hybrid vision transformer trained here on generated 64x64 shapes."
model_file = "model.keras"
labels_file = "labels.txt"
score = "logit"

[sha256]
"model.keras" = "{model_sha}"

[image]
size = [{size}, {size}]
resize = "bilinear"
color_mode = "rgb"
scaling = "unit"
"""


def stem_conv(x: keras.KerasTensor, filters: int, strides: int, name: str) -> keras.KerasTensor:
    x = keras.layers.Conv2D(
        filters, STEM_KERNEL, strides=strides, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


def patch_tokens(pixels: keras.KerasTensor) -> keras.KerasTensor:
    """(B, 64, WIDTH): three stride-2 convs (64 -> 8), a stride-1 `PATCH_KERNEL` conv,
    then the 8x8 grid read row by row: each token sees exactly its own 8x8 patch."""
    x = stem_conv(pixels, 32, 2, "stem1")
    x = stem_conv(x, 64, 2, "stem2")
    x = stem_conv(x, WIDTH, 2, "stem3")
    x = keras.layers.Conv2D(WIDTH, PATCH_KERNEL, padding="same", name="patches")(x)
    grid = IMAGE_SIZE // 8
    return keras.layers.Reshape((grid * grid, WIDTH), name="patch_tokens")(x)


def class_token(pixels: keras.KerasTensor) -> keras.KerasTensor:
    """(B, 1, WIDTH) learned token: a Dense layer's bias (its input is always zero)."""
    zeros = keras.layers.Rescaling(0.0, name="zeros")(
        keras.layers.GlobalAveragePooling2D(name="pixel_mean")(pixels)
    )
    token = keras.layers.Dense(WIDTH, name="class_embedding")(zeros)
    return keras.layers.Reshape((1, WIDTH), name="class_token")(token)


def block(x: keras.KerasTensor, index: int) -> keras.KerasTensor:
    """Pre-norm Transformer block: x + MHA(LN(x)), then + MLP(LN(.))."""
    name = f"b{index}"
    normed = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm1")(x)
    attended = keras.layers.MultiHeadAttention(HEADS, WIDTH // HEADS, name=f"{name}_attn")(
        normed, normed
    )
    x = keras.layers.Add(name=f"{name}_add1")([x, attended])
    normed = keras.layers.LayerNormalization(epsilon=1e-6, name=f"{name}_norm2")(x)
    hidden = keras.layers.Dense(MLP_WIDTH, activation="gelu", name=f"{name}_mlp1")(normed)
    hidden = keras.layers.Dense(WIDTH, name=f"{name}_mlp2")(hidden)
    return keras.layers.Add(name=f"{name}_out")([x, hidden])


def build_model() -> keras.Model:
    pixels = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="pixels")
    tokens = keras.layers.Concatenate(axis=1, name="tokens")(
        [class_token(pixels), patch_tokens(pixels)]
    )
    x = tokens
    for index in range(1, BLOCKS + 1):
        x = block(x, index)
    x = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    # Cropping1D keeps the class token (first of 65) without a Lambda layer.
    x = keras.layers.Cropping1D((0, x.shape[1] - 1), name="class_output")(x)
    x = keras.layers.Flatten(name="class_features")(x)
    scores = keras.layers.Dense(len(LABELS), activation="softmax", name="class_scores")(x)
    return keras.Model(pixels, scores, name="shapes_vit")


class KeepBest(keras.callbacks.Callback):
    """After each epoch: held-out accuracy; save the best; stop at the goal or deadline."""

    def __init__(self, out: Path, deadline: float, epochs: int) -> None:
        super().__init__()
        self.out, self.deadline, self.epochs, self.best = out, deadline, epochs, -1.0
        self.images, self.labels, _ = make_shapes(N_HELD_OUT, HELD_OUT_SEED)

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        scores = self.model.predict(self.images.astype(np.float32) / 255, verbose=0)
        accuracy = float(np.mean(scores.argmax(axis=1) == self.labels))
        print(f"epoch {epoch + 1}: held-out accuracy {accuracy:.2%}", flush=True)
        if accuracy >= self.best:  # ties: the later, longer-trained epoch
            self.best = accuracy
            save(self.model, self.out)
            print(f"  saved (best so far) -> {self.out}", flush=True)
        done = accuracy >= STOP_ACCURACY and epoch + 1 >= MIN_EPOCHS
        if done or epoch + 1 >= self.epochs or time.time() > self.deadline:
            self.model.stop_training = True


def save(model: keras.Model, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    save_for_serving(model, build_model(), out / "model.keras")
    (out / "labels.txt").write_text("\n".join(LABELS) + "\n")
    card = CARD_TEMPLATE.format(model_sha=file_sha256(out / "model.keras"), size=IMAGE_SIZE)
    (out / "model.toml").write_text(card)


def train(seed: int, out: Path, deadline: float, epochs: int) -> None:
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    images, targets = training_set(seed, N_SINGLE, N_TWO)
    steps = MAX_EPOCHS * -(-len(images) // BATCH_SIZE)
    model = build_model()
    model.compile(
        optimizer(steps, LEARNING_RATE), loss="categorical_crossentropy", metrics=["accuracy"]
    )
    model.fit(
        batches(images, targets, seed, BATCH_SIZE),
        epochs=MAX_EPOCHS,
        shuffle=False,
        verbose=2,
        callbacks=[KeepBest(out, deadline, epochs)],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODEL_DIR)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument(
        "--minutes", type=float, default=120.0, help="stop after the epoch past this budget"
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=MAX_EPOCHS,
        help="stop after this many epochs (the learning-rate schedule still spans MAX_EPOCHS)",
    )
    args = parser.parse_args()
    started = time.perf_counter()
    train(args.seed, args.out, time.time() + 60 * args.minutes, args.epochs)
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    print(f"trained in {int(minutes)} min {seconds:.0f} s -> {args.out}")


if __name__ == "__main__":
    main()
