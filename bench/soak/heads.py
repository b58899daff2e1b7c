"""Request kinds for the heads beyond classifiers (a region of a `shapes_seg` scene, a
box of a `shapes_det` scene) and for the pixel-level methods, which the soak sends to
those two models so that the classifiers' compiled functions stay as they were."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from bench.soak.mix import Inputs, Kind, Request, b64, form, json_images

Rng = np.random.Generator
SEG, DET = "shapes_seg", "shapes_det"
SCENES = 24  # a pool of held-out scenes, drawn from per request


@dataclass(frozen=True)
class Scene:
    png: bytes
    objects: list[tuple[int, list[int], bytes]]  # (class, box x0 y0 x1 y1, mask PNG)


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def make_scene_pool(seed: int = 777) -> list[Scene]:
    """Two-shape scenes of distinct classes (a seed the training never used)."""
    from training.shapes_scenes import make_scenes

    scenes = make_scenes(SCENES, seed=seed, counts=(2,), distinct=True)
    pool = []
    for image, mask, boxes, classes in zip(
        scenes.images, scenes.masks, scenes.boxes, scenes.classes, strict=True
    ):
        objects = []
        for label, box in zip(classes, boxes, strict=True):
            if label < 0:
                continue
            x0, y0, x1, y1 = (int(v) for v in box)
            region = np.zeros_like(mask)
            region[y0:y1, x0:x1] = (mask[y0:y1, x0:x1] == label + 1) * 255
            objects.append((int(label), [x0, y0, x1, y1], png(region)))
        pool.append(Scene(png(image), objects))
    return pool


def check_scene_pool(base: str, inputs: Inputs) -> None:
    """Keep the scenes whose every box the detector answers (before the run: a box
    target that matches no prediction is a 422 by design, not what the soak measures)."""
    import httpx

    kept = []
    for shown in inputs.scenes:
        targets = [{"class": label, "box": corners} for label, corners, _ in shown.objects]
        request = json_images(DET, [shown.png], {"targets": targets, "overlay": False})
        if httpx.post(base + request.path, timeout=120, **request.send).status_code == 200:
            kept.append(shown)
    print(f"  scenes: {len(kept)} of {len(inputs.scenes)} with every box detected", flush=True)
    inputs.scenes = kept


def scene(rng: Rng, io_: Inputs) -> tuple[Scene, tuple[int, list[int], bytes]]:
    chosen = io_.scenes[int(rng.integers(len(io_.scenes)))]
    return chosen, chosen.objects[int(rng.integers(len(chosen.objects)))]


def region(rng: Rng, io_: Inputs) -> Request:
    """A region target (mask of one object; the segmentation class is label + 1)."""
    shown, (label, _, mask) = scene(rng, io_)
    target = {"class": label + 1, "mask": {"b64": b64(mask)["b64"]}}
    parameters = {"targets": [target], "draw_targets": True, "overlay_format": "png"}
    return json_images(SEG, [shown.png], parameters)


def predicted_regions(rng: Rng, io_: Inputs) -> Request:
    """No targets: the classes predicted in the scene, each its whole region."""
    shown, _ = scene(rng, io_)
    return form(SEG, (shown.png, "image/png"), {"method": "gradcam++", "overlay": "layer"})


def box(rng: Rng, io_: Inputs) -> Request:
    """A box target: the true box of one object (the detector finds 98 % of them, and
    the pool holds only scenes it answers; `check_scene_pool`)."""
    shown, (label, corners, _) = scene(rng, io_)
    parameters = {"targets": [{"class": label, "box": corners}], "draw_targets": True}
    return json_images(DET, [shown.png], parameters)


def detections(rng: Rng, io_: Inputs) -> Request:
    shown, _ = scene(rng, io_)
    fields = {"method": "hirescam", "overlay_format": "webp"}
    return form(DET, (shown.png, "image/png"), fields)


def pixel_method(method: str, **options: object) -> Kind:
    """A pixel-level method on a region target: its map is per input pixel."""

    def kind(rng: Rng, io_: Inputs) -> Request:
        shown, (label, _, mask) = scene(rng, io_)
        target = {"class": label + 1, "mask": {"b64": b64(mask)["b64"]}}
        parameters = {"method": method, "targets": [target], **options}
        return json_images(SEG, [shown.png], parameters)

    return kind


def pytorch_option(method: str, **options: object) -> Kind:
    """pytorch-grad-cam's later methods and options on a box target."""

    def kind(rng: Rng, io_: Inputs) -> Request:
        shown, (label, corners, _) = scene(rng, io_)
        parameters = {"method": method, "targets": [{"class": label, "box": corners}]}
        return json_images(DET, [shown.png], parameters | dict(options))

    return kind


def layer_list(rng: Rng, io_: Inputs) -> Request:
    """Two target layers at once, maps averaged (pytorch-grad-cam's several layers)."""
    shown, (label, corners, _) = scene(rng, io_)
    parameters = {"layer": io_.layers(DET), "targets": [{"class": label, "box": corners}]}
    return json_images(DET, [shown.png], parameters | {"overlay": "layer"})


def head_kinds() -> list[Kind]:
    return [
        region,
        box,
        predicted_regions,
        pixel_method("saliency"),
        detections,
        pixel_method("smoothgrad", samples=8, seed=3, overlay=False),
        pytorch_option("kpcacam"),
        pytorch_option("gradcam++", eigen_smooth=True),
        pixel_method("integrated-gradients", steps=8, baseline="blur"),
        pytorch_option("fem"),
        pixel_method("guided-backprop", overlay="layer"),
        pytorch_option("shapleycam", aug_smooth=True, overlay=False),
        pixel_method("guided-gradcam"),
        pytorch_option("gradcam", metrics=["deletion", "insertion"], metric_steps=4),
        pixel_method("fullgrad", overlay_format="jpeg"),
        layer_list,
    ]
