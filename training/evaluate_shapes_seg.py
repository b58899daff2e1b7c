"""Figures for `shapes_seg`: `python -m training.evaluate_shapes_seg [--n 1000 --seed 12345]`.

- foreground IoU: per held-out scene (1-3 shapes, seed `seed`), IoU of the predicted
  foreground (argmax class != background) with the true foreground, 64x64 pixels; the
  table gives the mean over scenes (and the pooled IoU: all scenes' pixels together).
- per-class IoU: pooled over all held-out pixels, for each of the 5 classes.
- pointing: held-out scenes of exactly two shapes of different classes (seed `seed + 1`);
  each object's target is its region (its true mask, resized nearest to the output grid)
  and its class, the score is the sum over the region of the class's logit map (the
  input of the `segmentation` softmax). Grad-CAM by a direct GradientTape at the card's
  `default_layer` (training/scene_gradcam.py). "inside": the map's maximum is on a pixel of
  the object's own mask; "on other": on a pixel of the other object's mask.

The output grid is 64x64 for the committed model; a coarser grid would be compared after
bilinear upsampling of its probabilities to 64x64.
"""

import argparse
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.scene_gradcam import gradcam_maps, pointing, tapped_model
from training.scene_training import MODELS_DIR, load_model_folder
from training.shapes_data import IMAGE_SIZE
from training.shapes_scenes import Scenes, make_scenes

MODEL_DIR = MODELS_DIR / "shapes_seg"
N_CLASSES = 5
BATCH_SIZE = 256


def predict_classes(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """(n, 64, 64) argmax classes, probabilities upsampled to 64x64 first if coarser."""
    classes = []
    for start in range(0, len(images), BATCH_SIZE):
        pixels = images[start : start + BATCH_SIZE].astype(np.float32) / 255
        probabilities = model(pixels, training=False)
        probabilities = tf.image.resize(probabilities, (IMAGE_SIZE, IMAGE_SIZE), "bilinear")
        classes.append(np.argmax(probabilities, axis=-1))
    return np.concatenate(classes)


def foreground_iou(predicted: np.ndarray, masks: np.ndarray) -> tuple[float, float]:
    """(mean over scenes, pooled) IoU of predicted vs true foreground."""
    predicted_fg, true_fg = predicted > 0, masks > 0
    intersection = (predicted_fg & true_fg).sum(axis=(1, 2))
    union = (predicted_fg | true_fg).sum(axis=(1, 2))
    return float(np.mean(intersection / union)), float(intersection.sum() / union.sum())


def class_ious(predicted: np.ndarray, masks: np.ndarray) -> list[float]:
    """Pooled IoU of each class over all pixels."""
    return [
        float(((predicted == k) & (masks == k)).sum() / ((predicted == k) | (masks == k)).sum())
        for k in range(N_CLASSES)
    ]


def region_score(logits: list[tf.Tensor], targets: dict[str, np.ndarray]) -> tf.Tensor:
    """Sum over the region of the class's logit map: (B,)."""
    (logit_maps,) = logits
    regions = tf.image.resize(targets["region"][..., None], logit_maps.shape[1:3], "nearest")
    chosen = tf.one_hot(targets["class"], logit_maps.shape[-1])[:, None, None, :]
    return tf.reduce_sum(logit_maps * chosen * regions, axis=(1, 2, 3))


def object_pointing(model: keras.Model, layer: str, scenes: Scenes) -> dict[str, float]:
    """Pointing rates over both objects of each two-object scene (2 maps per scene)."""
    scene, slot = np.repeat(np.arange(len(scenes)), 2), np.tile([0, 1], len(scenes))
    classes = scenes.classes[scene, slot]
    own = scenes.masks[scene] == (classes + 1)[:, None, None]
    other_classes = scenes.classes[scene, 1 - slot]
    other = scenes.masks[scene] == (other_classes + 1)[:, None, None]
    pixels = scenes.images[scene].astype(np.float32) / 255
    # Class k of the model's output is label k - 1 (0 is background).
    targets = {"region": own.astype(np.float32), "class": (classes + 1).astype(np.int32)}
    tapped = tapped_model(model, layer, ["segmentation"])
    return pointing(gradcam_maps(tapped, pixels, targets, region_score), own, other)


def evaluate(
    model_dir: Path = MODEL_DIR,
    n: int = 1000,
    n_two: int = 500,
    seed: int = 12345,
    layer: str | None = None,
) -> dict:
    model, card = load_model_folder(model_dir)
    layer = layer or card["default_layer"]
    scenes = make_scenes(n, seed)
    predicted = predict_classes(model, scenes.images)
    mean_iou, pooled_iou = foreground_iou(predicted, scenes.masks)
    pairs = make_scenes(n_two, seed + 1, counts=(2,), distinct=True)
    return {
        "layer": layer,
        "n": n,
        "n_maps": 2 * n_two,
        "foreground_iou": mean_iou,
        "foreground_iou_pooled": pooled_iou,
        "class_iou": class_ious(predicted, scenes.masks),
        "pixel_accuracy": float(np.mean(predicted == scenes.masks)),
        **object_pointing(model, layer, pairs),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model-dir", type=Path, default=MODEL_DIR)
    parser.add_argument("--n", type=int, default=1000, help="held-out scenes (1-3 shapes)")
    parser.add_argument("--n-two", type=int, default=500, help="two-object scenes (2 maps each)")
    parser.add_argument("--seed", type=int, default=12345)
    parser.add_argument("--layer", default=None, help="default: the card's default_layer")
    args = parser.parse_args()
    figures = evaluate(args.model_dir, args.n, args.n_two, args.seed, args.layer)
    labels = (args.model_dir / "labels.txt").read_text().split()
    print(f"model: {args.model_dir}  layer: {figures['layer']}  seed: {args.seed}")
    print("| figure | value |\n|---|---|")
    print(f"| foreground IoU, mean over {figures['n']} scenes | {figures['foreground_iou']:.2%} |")
    print(f"| foreground IoU, pooled | {figures['foreground_iou_pooled']:.2%} |")
    for label, iou in zip(labels, figures["class_iou"], strict=True):
        print(f"| IoU {label} (pooled) | {iou:.2%} |")
    print(f"| mean IoU of the 5 classes | {np.mean(figures['class_iou']):.2%} |")
    print(f"| pixel accuracy | {figures['pixel_accuracy']:.2%} |")
    print(
        f"| region map max inside the object ({figures['n_maps']} maps) | {figures['inside']:.2%} |"
    )
    print(f"| region map max on the other object | {figures['on_other']:.2%} |")
    print(f"| all-zero maps | {figures['zero_maps']:.2%} |")


if __name__ == "__main__":
    main()
