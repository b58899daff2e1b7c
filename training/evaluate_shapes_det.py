"""Figures for `shapes_det`: `python -m training.evaluate_shapes_det [--n 1000 --seed 12345]`.

- recall / precision at IoU 0.5: held-out scenes of 1-3 shapes (seed `seed`); detections
  as the card says (max class probability >= 0.5, class-wise NMS at IoU 0.5,
  training/shapes_detections.py); a detection is a true positive when it matches a
  not-yet-matched true object of its class with IoU >= 0.5 (best score first).
  Recall = true positives / true objects, precision = true positives / detections.
- pointing: held-out scenes of exactly two shapes of different classes (seed `seed + 1`);
  each object's target is its true box and class: the score is the class LOGIT (the input
  of the `scores` sigmoid) of the predicted box that best overlaps the true box (IoU).
  Grad-CAM by a direct GradientTape at the card's `default_layer`
  (training/scene_gradcam.py). "inside": the map's maximum is inside the object's true
  box; "inside the shape": on a pixel of its mask; "on other": inside the other object's
  true box.
"""

import argparse
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from training.scene_gradcam import box_region, gradcam_maps, peak_points, pointing, tapped_model
from training.scene_training import MODELS_DIR, load_model_folder
from training.shapes_detections import corners, detections, iou, match
from training.shapes_scenes import Scenes, make_scenes

MODEL_DIR = MODELS_DIR / "shapes_det"
BATCH_SIZE = 256


def predict(model: keras.Model, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(boxes (n, N, 4), scores (n, N, 4)) for uint8 images."""
    boxes, scores = [], []
    for start in range(0, len(images), BATCH_SIZE):
        pixels = images[start : start + BATCH_SIZE].astype(np.float32) / 255
        batch_boxes, batch_scores = model(pixels, training=False)
        boxes.append(np.asarray(batch_boxes))
        scores.append(np.asarray(batch_scores))
    return np.concatenate(boxes), np.concatenate(scores)


def recall_precision(model: keras.Model, scenes: Scenes) -> dict[str, float]:
    boxes, scores = predict(model, scenes.images)
    found = [detections(boxes[i], scores[i]) for i in range(len(scenes))]
    hits = sum(match(found[i], scenes.objects(i)) for i in range(len(scenes)))
    n_found = sum(len(f) for f in found)
    n_true = int(scenes.counts.sum())
    return {
        "recall": hits / n_true,
        "precision": hits / max(n_found, 1),
        "n_true": n_true,
        "n_found": n_found,
    }


def best_boxes(
    model: keras.Model, images: np.ndarray, true_boxes: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(index of the predicted box that best overlaps each true box, that IoU)."""
    predicted, _ = predict(model, images)
    overlaps = np.stack(
        [iou(box.astype(float), corners(p)) for box, p in zip(true_boxes, predicted, strict=True)]
    )
    return overlaps.argmax(axis=1), overlaps.max(axis=1)


def box_score(logits: list[tf.Tensor], targets: dict[str, np.ndarray]) -> tf.Tensor:
    """The class logit of the chosen candidate box: (B,)."""
    (class_logits,) = logits  # (B, N, classes)
    chosen = (
        tf.one_hot(targets["box"], class_logits.shape[1])[..., None]
        * tf.one_hot(targets["class"], class_logits.shape[2])[:, None, :]
    )
    return tf.reduce_sum(class_logits * chosen, axis=(1, 2))


def object_pointing(model: keras.Model, layer: str, scenes: Scenes) -> dict[str, float]:
    """Pointing rates over both objects of each two-object scene (2 maps per scene)."""
    scene, slot = np.repeat(np.arange(len(scenes)), 2), np.tile([0, 1], len(scenes))
    classes = scenes.classes[scene, slot]
    images = scenes.images[scene]
    own_boxes, other_boxes = scenes.boxes[scene, slot], scenes.boxes[scene, 1 - slot]
    chosen, best_iou = best_boxes(model, images, own_boxes)
    targets = {"box": chosen.astype(np.int32), "class": classes.astype(np.int32)}
    tapped = tapped_model(model, layer, ["scores"])
    maps = gradcam_maps(tapped, images.astype(np.float32) / 255, targets, box_score)
    rows, cols = peak_points(maps)
    on_shape = scenes.masks[scene, rows, cols] == classes + 1
    return {
        **pointing(maps, box_region(own_boxes), box_region(other_boxes)),
        "inside_shape": float(np.mean(on_shape & maps.reshape(len(maps), -1).any(axis=1))),
        "target_iou_median": float(np.median(best_iou)),
    }


def evaluate(
    model_dir: Path = MODEL_DIR,
    n: int = 1000,
    n_two: int = 500,
    seed: int = 12345,
    layer: str | None = None,
) -> dict:
    model, card = load_model_folder(model_dir)
    layer = layer or card["default_layer"]
    pairs = make_scenes(n_two, seed + 1, counts=(2,), distinct=True)
    return {
        "layer": layer,
        "n": n,
        "n_maps": 2 * n_two,
        **recall_precision(model, make_scenes(n, seed)),
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
    f = evaluate(args.model_dir, args.n, args.n_two, args.seed, args.layer)
    print(f"model: {args.model_dir}  layer: {f['layer']}  seed: {args.seed}")
    print("| figure | value |\n|---|---|")
    print(f"| recall at IoU 0.5 ({f['n_true']} objects in {f['n']} scenes) | {f['recall']:.2%} |")
    print(f"| precision at IoU 0.5 ({f['n_found']} detections) | {f['precision']:.2%} |")
    print(f"| box map max inside the object's box ({f['n_maps']} maps) | {f['inside']:.2%} |")
    print(f"| box map max on the object's own pixels | {f['inside_shape']:.2%} |")
    print(f"| box map max inside the other object's box | {f['on_other']:.2%} |")
    print(f"| all-zero maps | {f['zero_maps']:.2%} |")
    print(f"| median IoU of the target box with the true box | {f['target_iou_median']:.2f} |")


if __name__ == "__main__":
    main()
