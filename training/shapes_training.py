"""What the two shapes models (`train_shapes`, `train_shapes_vit`) train on and with:
the same data mix, input pipeline and learning-rate schedule, sized by each script."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from training.shapes_data import LABELS, make_shapes, make_two_objects


def training_set(seed: int, n_single: int, n_two: int) -> tuple[np.ndarray, np.ndarray]:
    """One-shape images with one-hot targets plus two-shape images with 0.5/0.5 targets.

    The two-shape images teach the map what the pointing game asks of it: each class's
    evidence sits on its own shape, not on the other one.
    """
    images, labels, _ = make_shapes(n_single, seed)
    pairs, pair_labels, _ = make_two_objects(n_two, seed + 1)
    targets = np.zeros((n_single + n_two, len(LABELS)), dtype=np.float32)
    targets[np.arange(n_single), labels] = 1
    for slot in range(2):
        targets[n_single + np.arange(n_two), pair_labels[:, slot]] = 0.5
    return np.concatenate([images, pairs]), targets


def batches(images: np.ndarray, targets: np.ndarray, seed: int, batch_size: int) -> tf.data.Dataset:
    """Shuffled batches of `images / 255`; the uint8 arrays are scaled per batch to save memory."""
    return (
        tf.data.Dataset.from_tensor_slices((images, targets))
        .shuffle(len(images), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .map(lambda x, y: (tf.cast(x, tf.float32) / 255, y))
        .prefetch(2)
    )


def optimizer(steps: int, learning_rate: float) -> keras.optimizers.Optimizer:
    """Adam with a short linear warm-up, then cosine decay to zero over `steps`."""
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps, warmup_target=learning_rate, warmup_steps=steps // 20
    )
    return keras.optimizers.Adam(schedule)
