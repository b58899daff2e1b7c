"""What a region or a box target costs against a class target on the same model.

    python -m bench.targets [--repeats 60] [--batch 1]

Two 64x64 RGB models of the bundled models' shapes (models/shapes_seg: one softmax
`segmentation` output (B, 16, 16, 5); models/shapes_det: `boxes` (B, 64, 4) cxcywh and
`scores` (B, 64, 4) sigmoids), each with a `classes` softmax output beside on the same
backbone, so a class target (`{"output": "classes", "class": k}`) and a region or box
target run the same pass: only the score differs. Each timed call is what the service
does per request past decoding: the targets mapped as the API maps them (the mask PNG
decoded and resized to the output grid; the box normalised), then the compiled
Grad-CAM. Class and region (or box) calls alternate, so drift hits both alike. Prints
the p50 of each and the ratio (goals: region <= 1.2x, box <= 1.3x).

Then the bundled models themselves, on a held-out two-shape scene: on `shapes_seg` a
class target `{"class": k}` (its region: the pixels predicted as k, found in the pass)
against the same object's region sent as a mask PNG; on `shapes_det` `{"class": k}` (the
best-scoring box of class k) against that object's box.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import time
from collections.abc import Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras
import numpy as np
from PIL import Image

from app.engine.layers.graph import output_shapes
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.table import DetectionSpec, make_head
from app.explain.options import RequestTarget
from app.explain.targets import engine_targets

SIDE = 64


def backbone(inputs: keras.KerasTensor) -> keras.KerasTensor:
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(inputs)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    return keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="feat")(x)


def classes_output(features: keras.KerasTensor) -> keras.KerasTensor:
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    return keras.layers.Activation("softmax", name="classes")(keras.layers.Dense(5)(pooled))


def seg_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((SIDE, SIDE, 3))
    features = backbone(inputs)
    logits = keras.layers.Conv2D(5, 1)(features)
    segmentation = keras.layers.Activation("softmax", name="segmentation")(logits)
    return keras.Model(inputs, [segmentation, classes_output(features)])


def det_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIDE, SIDE, 3))
    features = backbone(inputs)
    cells = keras.layers.Conv2D(32, 2, strides=2, activation="relu")(features)  # 8x8 cells
    flat = keras.layers.Reshape((64, 32))(cells)
    boxes = keras.layers.Activation("sigmoid", name="boxes")(keras.layers.Dense(4)(flat))
    scores = keras.layers.Activation("sigmoid", name="scores")(keras.layers.Dense(4)(flat))
    return keras.Model(inputs, [boxes, scores, classes_output(features)])


def camera(model: keras.Model, kind: str, output: str) -> GradCam:
    spec = DetectionSpec("boxes", "scores", "cxcywh", "normalized")
    head = make_head(kind, output, output_shapes(model), detection=spec)
    return GradCam(model, "feat", head=head)


def mask_png() -> bytes:
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[16:40, 20:48] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    return buffer.getvalue()


def interleaved(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """p50 milliseconds of each run, the runs called in turn `repeats` times."""
    for run in runs.values():
        for _ in range(3):
            run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in times.items()}


def request(
    cam: GradCam, images: np.ndarray, targets: list[int | RequestTarget]
) -> Callable[[], object]:
    sizes = [(SIDE, SIDE)] * len(images)

    def run() -> object:
        return cam.explain(images, engine_targets(targets, cam.head, sizes))

    return run


def bundled_pairs(
    images: np.ndarray, batch: int
) -> dict[str, tuple[Callable[[], object], Callable[[], object]]]:
    """(class target, region or box target) runs on models/shapes_seg and shapes_det."""
    from app.cli.backends import load_one_model
    from app.settings import Settings
    from training.shapes_scenes import make_scenes

    scene = make_scenes(1, seed=4242, counts=(2,), distinct=True)
    pixels = np.repeat(scene.images[:1].astype(np.float32) / 255.0, batch, axis=0)
    label = int(scene.classes[0, 0])
    x0, y0, x1, y1 = (int(v) for v in scene.boxes[0, 0])
    mask = np.zeros((SIDE, SIDE), np.uint8)
    mask[y0:y1, x0:x1] = (scene.masks[0, y0:y1, x0:x1] == label + 1) * 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    settings = Settings()
    seg = load_one_model(settings, "shapes_seg").default_gradcam()
    det = load_one_model(settings, "shapes_det").default_gradcam()
    box = (float(x0), float(y0), float(x1), float(y1))
    return {
        "shapes_seg region": (
            request(seg, pixels, [RequestTarget(label + 1)]),
            request(seg, pixels, [RequestTarget(label + 1, mask=buffer.getvalue())]),
        ),
        "shapes_det box": (
            request(det, pixels, [RequestTarget(label)]),
            request(det, pixels, [RequestTarget(label, box=box)]),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=60)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    images = np.random.default_rng(0).random((args.batch, SIDE, SIDE, 3), dtype=np.float32)
    seg, det = seg_model(), det_model()
    pairs = {
        "region": (
            request(camera(seg, "classifier", "classes"), images, [2]),
            request(
                camera(seg, "segmentation", "segmentation"),
                images,
                [RequestTarget(2, mask=mask_png())],
            ),
        ),
        "box": (
            request(camera(det, "classifier", "classes"), images, [2]),
            request(
                camera(det, "detection", "scores"),
                images,
                [RequestTarget(2, box=(10.0, 12.0, 40.0, 44.0))],
            ),
        ),
    }
    pairs |= bundled_pairs(images, args.batch)
    print(f"batch {args.batch}, {args.repeats} interleaved repeats, p50 ms per call")
    print(f"{'target':<18} {'class ms':>9} {'target ms':>10} {'ratio':>6}  goal")
    for name, (class_run, target_run) in pairs.items():
        p50 = interleaved({"class": class_run, name: target_run}, args.repeats)
        goal = 1.2 if name.endswith("region") else 1.3
        ratio = p50[name] / p50["class"]
        print(f"{name:<18} {p50['class']:>9.2f} {p50[name]:>10.2f} {ratio:>6.2f}  <= {goal}")


if __name__ == "__main__":
    main()
