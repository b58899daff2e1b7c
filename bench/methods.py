"""Every CAM method: time per image and faithfulness, on efficientnet_lite0 and shapes.

    python -m bench.methods [--models-dir models] [--photos-dir docs/examples] [--repeats 5]
                            [--speed-only]
    python -m bench.methods --pixel    # the pixel-level methods' speed only

`--pixel` times the forward, Grad-CAM and the pixel-level methods at their defaults
(smoothgrad 20 samples, integrated-gradients 32 steps), nothing else.

Time: median ms per image at batch 1 and batch 8 (photos tiled to the batch), the ratio
to a bare compiled forward of the same batch and to Grad-CAM; Score-CAM and Ablation-CAM
perturb 32 channels. pytorch-grad-cam's options are timed on Grad-CAM
(`OPTIONS`: aug_smooth, six views in one compiled call; eigen_smooth), with aug_smooth's
ratio to Grad-CAM printed against its goal (at most 7x). Cost of the faithfulness scores: deletion + insertion with 16 steps
on top of the Grad-CAM explanation, as a ratio to the explanation alone. Faithfulness:
on held-out `shapes` images (seeds 31337 and 31338; training used 2024 and 2025),
pointing accuracy (the map's peak inside the object's box + 3 px, as
`training.evaluate_shapes`) on one-shape images and, for each shape's class, on
two-shape images, and mean deletion / insertion AUC for the true class (one shape); on the photos, mean deletion / insertion
AUC for the top class. Everything is timed in one run, so ratios hold when the machine's
speed drifts (it is shared: absolute times are noisy).
"""

from __future__ import annotations

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import statistics
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from app.engine.capture.keras.fold import plan_folding
from app.engine.capture.keras.forward import ModelForward
from app.engine.methods import CAM_METHOD_NAMES as METHOD_NAMES  # CNN benches: no attention
from app.engine.methods import PIXEL_METHODS
from app.engine.methods.options import CamOptions
from app.engine.runtime.gradcam import GradCam
from bench.method_models import REPO, ImageModel, load_image_model, load_photos
from bench.timing import median_ms
from training.evaluate_shapes import hits
from training.shapes_data import make_shapes, make_two_objects

MODEL = "efficientnet_lite0"
BATCHES = (1, 8)
SHAPES_SEED = 31337
CURVES = ["deletion", "insertion"]
# pytorch-grad-cam's options, timed on Grad-CAM
OPTIONS = {
    "gradcam aug_smooth": CamOptions(aug_smooth=True),
    "gradcam eigen_smooth": CamOptions(eigen_smooth=True),
}
AUG_SMOOTH_GOAL = 7.0  # x gradcam (issue 26)


def tiled(pixels: np.ndarray, batch: int) -> np.ndarray:
    return np.concatenate([pixels] * (batch // len(pixels) + 1))[:batch]


def speed(
    loaded: ImageModel,
    pixels: np.ndarray,
    repeats: int,
    methods: tuple[str, ...] = (*METHOD_NAMES, *OPTIONS),
) -> dict[str, dict[int, float]]:
    """ms per image: {"forward" | method | "gradcam+metrics": {batch: ms}}.

    Round robin: each round times every contender once, so a slow spell of the shared
    machine hits all of them alike; the median over rounds is kept. Score-CAM, Ablation-CAM
    and the metrics take seconds a call and run in the first `max(2, repeats // 2)` rounds.
    """
    fold = plan_folding(loaded.model)
    forward = ModelForward(loaded.model, fold=fold)
    cams = {
        m: GradCam(loaded.model, loaded.layer, fold=fold, options=OPTIONS[m])
        if m in OPTIONS
        else GradCam(loaded.model, loaded.layer, method=m, fold=fold)
        for m in methods
    }
    times: dict[str, dict[int, float]] = {}
    for batch in BATCHES:
        for name, ms in batch_times(loaded, forward, cams, tiled(pixels, batch), repeats).items():
            times.setdefault(name, {})[batch] = ms / batch
    return times


def batch_times(
    loaded: ImageModel,
    forward: ModelForward,
    cams: dict[str, GradCam],
    raw: np.ndarray,
    repeats: int,
) -> dict[str, float]:
    """Median ms per call for one batch of pixels `raw`, contenders timed round robin."""
    inputs = loaded.scaling(raw)

    def with_metrics() -> None:
        result = cams["gradcam"].explain(inputs)
        cams["gradcam"].add_metrics(result, raw, loaded.scaling, CURVES, 16)

    contenders: dict[str, Callable[[], object]] = {"forward": partial(forward, inputs)}
    contenders.update({name: partial(cam.explain, inputs) for name, cam in cams.items()})
    contenders["gradcam+metrics"] = with_metrics
    slow = {"scorecam", "ablationcam", "gradcam+metrics", "smoothgrad", "integrated-gradients"}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for name, run in contenders.items():  # warm-up: traces, caches
        for _ in range(1 if name in slow else 3):
            run()
    for round_ in range(repeats):
        for name, run in contenders.items():
            if name not in slow or round_ < max(2, repeats // 2):
                samples[name].append(median_ms(run, 1, warmup=0))
    return {name: statistics.median(values) for name, values in samples.items()}


def faithfulness(
    loaded: ImageModel,
    pixels: np.ndarray,
    targets: list[list[int]],
    boxes: np.ndarray | None,
    curves: bool = True,
) -> dict[str, tuple[float, float, float]]:
    """{method: (pointing accuracy, mean deletion, mean insertion)}, nan where not asked.

    `targets` per image; `boxes` `(maps, 4)` one per map, in the maps' order."""
    inputs = loaded.scaling(pixels)
    results = {}
    for name in METHOD_NAMES:
        cam = GradCam(loaded.model, loaded.layer, method=name)
        heatmaps, deletion, insertion = [], [], []
        for start in range(0, len(pixels), 8):
            rows = slice(start, start + 8)
            result = cam.explain(inputs[rows], targets[rows], score="logit")
            heatmaps.append(result.heatmaps)
            if curves:
                result = cam.add_metrics(result, pixels[rows], loaded.scaling, CURVES, 16)
                deletion.extend(result.metrics["deletion"])
                insertion.extend(result.metrics["insertion"])
        pointing = np.nan if boxes is None else np.mean(hits(np.concatenate(heatmaps), boxes))
        results[name] = (
            float(pointing),
            float(np.mean(deletion)) if curves else np.nan,
            float(np.mean(insertion)) if curves else np.nan,
        )
    return results


def print_speed(
    times: dict[str, dict[int, float]], methods: tuple[str, ...] = (*METHOD_NAMES, *OPTIONS)
) -> None:
    print(
        "| method | b1 ms/img | b1 x forward | b1 x gradcam | b8 ms/img | b8 x forward | b8 x gradcam |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in ("forward", *methods, "gradcam+metrics"):
        cells = []
        for batch in BATCHES:
            ms = times[name][batch]
            cells += [
                f"{ms:.1f}",
                f"{ms / times['forward'][batch]:.2f}",
                f"{ms / times['gradcam'][batch]:.2f}",
            ]
        label = "gradcam + deletion + insertion (16 steps)" if name == "gradcam+metrics" else name
        print(f"| {label} | " + " | ".join(cells) + " |")
    if "gradcam aug_smooth" not in times:  # --pixel times the pixel methods alone
        return
    for batch in BATCHES:
        ratio = times["gradcam aug_smooth"][batch] / times["gradcam"][batch]
        verdict = "meets" if ratio <= AUG_SMOOTH_GOAL else "misses"
        print(
            f"\naug_smooth at batch {batch}: {ratio:.2f}x gradcam ({verdict} the goal, "
            f"at most {AUG_SMOOTH_GOAL:.0f}x)"
        )


def print_faithfulness(
    shapes: dict, pairs: dict, photos: dict, n_shapes: int, n_photos: int
) -> None:
    print(
        f"| method | shapes pointing (n={n_shapes}) | two-shape pointing ({2 * n_shapes} maps) "
        f"| shapes deletion | shapes insertion | photos deletion (n={n_photos}) "
        "| photos insertion |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name in METHOD_NAMES:
        point, s_del, s_ins = shapes[name]
        two = pairs[name][0]
        _, p_del, p_ins = photos[name]
        print(
            f"| {name} | {point:.3f} | {two:.3f} | {s_del:.3f} | {s_ins:.3f} "
            f"| {p_del:.3f} | {p_ins:.3f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models-dir", type=Path, default=REPO / "models")
    parser.add_argument("--photos-dir", type=Path, default=REPO / "docs" / "examples")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shapes", type=int, default=64, help="held-out shapes images")
    parser.add_argument("--speed-only", action="store_true", help="skip the faithfulness tables")
    parser.add_argument("--pixel", action="store_true", help="the pixel-level methods' speed")
    args = parser.parse_args()

    loaded = load_image_model(args.models_dir, MODEL)
    names, pixels = load_photos(args.photos_dir, loaded)
    print(f"{MODEL} at layer {loaded.layer}, photos: {', '.join(names)}\n")
    if args.pixel:
        methods = ("gradcam", *PIXEL_METHODS)
        print_speed(speed(loaded, pixels, args.repeats, methods), methods)
        return
    print_speed(speed(loaded, pixels, args.repeats))
    if args.speed_only:
        return

    top = [int(t) for t in ModelForward(loaded.model)(loaded.scaling(pixels)).argmax(axis=1)]
    photo_scores = faithfulness(loaded, pixels, [[t] for t in top], None)
    shapes = load_image_model(REPO / "models", "shapes")
    images, labels, boxes = make_shapes(args.shapes, seed=SHAPES_SEED)
    one = [[int(label)] for label in labels]
    shape_scores = faithfulness(shapes, images.astype(np.float32), one, boxes)
    pairs, pair_labels, pair_boxes = make_two_objects(args.shapes, seed=SHAPES_SEED + 1)
    pair_scores = faithfulness(
        shapes, pairs.astype(np.float32), pair_labels.tolist(), pair_boxes.reshape(-1, 4), False
    )
    print()
    print_faithfulness(shape_scores, pair_scores, photo_scores, args.shapes, len(names))


if __name__ == "__main__":
    main()
