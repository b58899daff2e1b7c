"""Train the `shapes_det` demo detection model: `python -m training.train_shapes_det`.

Writes models/shapes_det/{model.keras, labels.txt, model.toml}.
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
from training.shapes_detections import (
    GRID,
    IOU_THRESHOLD,
    SCORE_THRESHOLD,
    grid_offsets,
    training_targets,
)
from training.shapes_scenes import make_scenes

TARGET_LAYER = "det_features"
SEED = 2027
N_SCENES = 12_000
EPOCHS = 5
BATCH_SIZE = 64
LEARNING_RATE = 3e-3
BOX_LOSS_WEIGHT = 5.0
# Initial class probability 1 %: most cells hold nothing, so the first steps are not
# spent unlearning 50 % everywhere (the RetinaNet prior).
PRIOR_PROBABILITY = 0.01
DESCRIPTION = "A small one-stage detector trained here on generated 64x64 scenes of 1-3 shapes."
DETECTION_TABLE = f"""
[detection]
boxes_output = "boxes"
scores_output = "scores"
box_format = "cxcywh"
box_units = "normalized"
score_threshold = {SCORE_THRESHOLD}
iou_threshold = {IOU_THRESHOLD}
"""


def build_model() -> keras.Model:
    """A conv backbone 64 -> 32 -> 16 -> 8, then two 1x1 heads on the 8x8 `det_features`.

    1x1 heads make each cell's class logit a linear function of that cell's features
    only, so a box target's Grad-CAM at `det_features` is that cell's class evidence.
    """
    pixels = keras.Input(shape=(IMAGE_SIZE, IMAGE_SIZE, 3), name="pixels")
    x = conv(pixels, 16, "enc64")
    x = keras.layers.MaxPooling2D(name="pool64")(x)
    x = normalised_conv(x, 32, "enc32a")
    x = normalised_conv(x, 32, "enc32b")
    x = keras.layers.MaxPooling2D(name="pool32")(x)
    x = normalised_conv(x, 64, "enc16a")
    x = normalised_conv(x, 64, "enc16b")
    x = keras.layers.MaxPooling2D(name="pool16")(x)
    x = normalised_conv(x, 96, "enc8a")
    # Dilation: an 8x8 cell sees the whole image, so it can tell where its box ends.
    x = normalised_conv(x, 96, TARGET_LAYER, dilation=2)
    n_boxes = GRID * GRID
    raw_boxes = keras.layers.Conv2D(4, 1, kernel_initializer="zeros", name="box_raw")(x)
    # A constant per-cell offset (Rescaling accepts an array): a standard layer, so the
    # model still loads with safe_mode=True.
    box_logits = keras.layers.Rescaling(1.0, offset=grid_offsets(), name="box_grid")(raw_boxes)
    box_logits = keras.layers.Reshape((n_boxes, 4), name="box_cells")(box_logits)
    boxes = keras.layers.Activation("sigmoid", name="boxes")(box_logits)
    prior = keras.initializers.Constant(np.log(PRIOR_PROBABILITY / (1 - PRIOR_PROBABILITY)))
    class_logits = keras.layers.Conv2D(len(LABELS), 1, bias_initializer=prior, name="class_logits")(
        x
    )
    class_logits = keras.layers.Reshape((n_boxes, len(LABELS)), name="class_cells")(class_logits)
    scores = keras.layers.Activation("sigmoid", name="scores")(class_logits)
    return keras.Model(pixels, [boxes, scores], name="shapes_det")


def box_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """L1 of (cx, cy, w, h) on the responsible cells only (y_true's 5th channel): (B,)."""
    responsible = y_true[..., 4:]
    return tf.reduce_sum(responsible * tf.abs(y_true[..., :4] - y_pred), axis=(1, 2))


def class_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Binary cross-entropy summed over cells and classes (a mean would drown the 1-3
    positive cells in 63 empty ones): (B,)."""
    probabilities = tf.clip_by_value(y_pred, 1e-7, 1 - 1e-7)
    entropy = y_true * tf.math.log(probabilities) + (1 - y_true) * tf.math.log(1 - probabilities)
    return -tf.reduce_sum(entropy, axis=(1, 2))


def batches(
    images: np.ndarray, boxes: np.ndarray, scores: np.ndarray, seed: int
) -> tf.data.Dataset:
    """Shuffled batches of `images / 255` with {"boxes", "scores"} targets."""
    return (
        tf.data.Dataset.from_tensor_slices((images, {"boxes": boxes, "scores": scores}))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(BATCH_SIZE)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255, y))
        .prefetch(2)
    )


def train(seed: int, n_scenes: int, epochs: int) -> keras.Model:
    seed_everything(seed)
    scenes = make_scenes(n_scenes, seed)
    boxes, scores = training_targets(scenes)
    steps = epochs * -(-n_scenes // BATCH_SIZE)
    model = build_model()
    model.compile(
        optimizer(steps, LEARNING_RATE),
        loss={"boxes": box_loss, "scores": class_loss},
        loss_weights={"boxes": BOX_LOSS_WEIGHT, "scores": 1.0},
    )
    # shuffle=False: the dataset reshuffles itself each epoch (seeded).
    model.fit(batches(scenes.images, boxes, scores, seed), epochs=epochs, shuffle=False, verbose=2)
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=MODELS_DIR / "shapes_det")
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--scenes", type=int, default=N_SCENES)
    parser.add_argument("--epochs", type=int, default=EPOCHS)
    args = parser.parse_args()
    started = time.perf_counter()
    model = train(args.seed, args.scenes, args.epochs)
    card = {"model_id": "shapes_det", "head": "detection", "description": DESCRIPTION}
    card["layer"] = TARGET_LAYER
    write_model_folder(args.out, model, build_model, LABELS, card, DETECTION_TABLE)
    report_time(started, args.epochs, args.out)


if __name__ == "__main__":
    main()
