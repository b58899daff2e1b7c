"""What `train_shapes_seg` and `train_shapes_det` share: seeding, the conv blocks, the
optimizer, the reproducible save and the model card's common part."""

from __future__ import annotations

import time
import tomllib
from collections.abc import Callable
from pathlib import Path

import keras
import tensorflow as tf

from training.keras_files import file_sha256, save_for_serving
from training.shapes_data import IMAGE_SIZE
from training.shapes_training import optimizer

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"

CARD_TEMPLATE = """\
id = "{model_id}"
version = "1"
task = "image"
head = "{head}"
description = "{description}"
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

# `optimizer` is re-exported: both scripts take the `shapes` schedule from here.
__all__ = [
    "MODELS_DIR",
    "conv",
    "load_model_folder",
    "normalised_conv",
    "optimizer",
    "report_time",
    "seed_everything",
    "write_model_folder",
]


def seed_everything(seed: int) -> None:
    keras.utils.set_random_seed(seed)
    # Makes a retrain reproduce the committed file byte for byte.
    tf.config.experimental.enable_op_determinism()


def conv(x: keras.KerasTensor, filters: int, name: str, dilation: int = 1) -> keras.KerasTensor:
    return keras.layers.Conv2D(
        filters, 3, padding="same", dilation_rate=dilation, activation="relu", name=name
    )(x)


def normalised_conv(
    x: keras.KerasTensor, filters: int, name: str, dilation: int = 1
) -> keras.KerasTensor:
    """Conv -> BatchNorm -> ReLU (the layer named `name` is the ReLU)."""
    x = keras.layers.Conv2D(
        filters, 3, padding="same", dilation_rate=dilation, use_bias=False, name=f"{name}_conv"
    )(x)
    x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
    return keras.layers.ReLU(name=name)(x)


def write_model_folder(
    out: Path,
    trained: keras.Model,
    build: Callable[[], keras.Model],
    labels: tuple[str, ...],
    card: dict[str, str],
    card_extra: str = "",
) -> None:
    """model.keras (weights in a fresh uncompiled build), labels.txt, model.toml.

    `card` fills CARD_TEMPLATE's model_id, head, description and layer; `card_extra`
    (TOML tables) is appended after it.
    """
    out.mkdir(parents=True, exist_ok=True)
    save_for_serving(trained, build(), out / "model.keras")
    (out / "labels.txt").write_text("\n".join(labels) + "\n")
    model_sha = file_sha256(out / "model.keras")
    text = CARD_TEMPLATE.format(**card, model_sha=model_sha, size=IMAGE_SIZE)
    (out / "model.toml").write_text(text + card_extra)


def report_time(started: float, epochs: int, out: Path) -> None:
    minutes, seconds = divmod(time.perf_counter() - started, 60)
    print(f"trained {epochs} epochs in {int(minutes)} min {seconds:.0f} s -> {out}")


def load_model_folder(model_dir: Path) -> tuple[keras.Model, dict]:
    """(the model as the service loads it, its card)."""
    model = keras.saving.load_model(model_dir / "model.keras", compile=False, safe_mode=True)
    return model, tomllib.loads((model_dir / "model.toml").read_text())
