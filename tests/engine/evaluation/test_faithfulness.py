"""Faithfulness scores against a direct computation of their definitions."""

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.evaluation.faithfulness import check_metrics, faithfulness
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from training.shapes_data import make_shapes

SHAPES = Path(__file__).resolve().parents[3] / "models" / "shapes" / "model.keras"


def unit(pixels):
    return pixels / np.float32(255.0)


class CountingForward:
    """The model's output, counting the images it is asked to score."""

    def __init__(self, model):
        self.model = model
        self.images = 0

    def __call__(self, inputs):
        self.images += len(inputs)
        return np.asarray(self.model(inputs))


def direct_scores(model, pixels, heatmap, target, steps):
    """The definitions of cam-methods.md, one image at a time (no sharing, no batching)."""
    import tensorflow as tf

    size = pixels.shape[:2]
    m = tf.image.resize(heatmap[None, ..., None].astype(np.float32), size).numpy()[0, ..., 0]
    m = np.clip(m, 0, 1)
    order = np.argsort(-m.ravel(), kind="stable")

    def f(image):
        return float(np.asarray(model(unit(image[None].astype(np.float32))))[0, target])

    deletion, insertion = [], []
    for i in range(steps + 1):
        affected = np.zeros(m.size, dtype=bool)
        affected[order[: int(np.round(i * m.size / steps))]] = True
        affected = affected.reshape(size)[..., None]
        deletion.append(f(np.where(affected, 0, pixels)))
        insertion.append(f(np.where(affected, pixels, 0)))
    original, masked = f(pixels), f(pixels * m[..., None])
    return {
        "deletion": np.trapezoid(deletion, dx=1 / steps),
        "insertion": np.trapezoid(insertion, dx=1 / steps),
        "drop": max(0.0, original - masked) / original,
        "increase": float(masked > original),
    }


@pytest.fixture
def pixels():
    return np.random.default_rng(7).uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)


def test_every_metric_equals_its_definition(image_model, pixels):
    cam = GradCam(image_model, "conv_a")
    cams = cam.explain(unit(pixels), [0, 2], score="output")
    names = ["deletion", "insertion", "drop", "increase"]
    scored = cam.add_metrics(cams, pixels, unit, names, steps=5)
    for row in range(len(cams.targets)):
        expected = direct_scores(
            image_model, pixels[cams.sample[row]], cams.heatmaps[row], cams.targets[row], 5
        )
        for name in names:
            assert scored.metrics[name][row] == pytest.approx(expected[name], rel=1e-4, abs=1e-6)


def test_original_and_black_images_run_once(image_model, pixels):
    cams = GradCam(image_model).explain(unit(pixels), [0, 1, 2])
    forward = CountingForward(image_model)
    values = faithfulness(
        forward,
        unit,
        pixels,
        cams.sample,
        cams.targets,
        cams.scores,
        cams.heatmaps,
        ["deletion", "insertion"],
        steps=16,
    )
    maps = len(cams.targets)
    assert forward.images == maps * 2 * 15 + 1  # steps 1..15 of each curve, one black image
    assert values["deletion"].shape == values["insertion"].shape == (maps,)


def test_only_the_asked_metrics(image_model, pixels):
    cams = GradCam(image_model).explain(unit(pixels))
    forward = CountingForward(image_model)
    values = faithfulness(
        forward, unit, pixels, cams.sample, cams.targets, cams.scores, cams.heatmaps, ["drop"]
    )
    assert list(values) == ["drop"]
    assert forward.images == len(pixels)


@pytest.mark.parametrize(
    ("metrics", "steps", "message"),
    [(["nope"], 16, "unknown metric"), (["deletion"], 65, "metric_steps"), ([], 0, "steps")],
)
def test_bad_metric_options(metrics, steps, message):
    with pytest.raises(InvalidInput, match=message):
        check_metrics(metrics, steps)


def test_text_maps_are_refused(text_model, token_ids):
    cam = GradCam(text_model)
    cams = cam.explain(token_ids)
    with pytest.raises(InvalidInput, match="image models only"):
        cam.add_metrics(cams, token_ids, unit, ["deletion"])


def test_a_map_on_the_object_beats_the_same_map_flipped():
    model = keras.saving.load_model(SHAPES, compile=False, safe_mode=True)
    images, labels, _ = make_shapes(12, seed=5150)
    pixels = images.astype(np.float32)
    cam = GradCam(model, "last_conv")
    cams = cam.explain(unit(pixels), [[int(label)] for label in labels], score="logit")
    names = ["deletion", "insertion"]
    pointing = cam.add_metrics(cams, pixels, unit, names)
    flipped = cam.add_metrics(
        type(cams)(**{**vars(cams), "heatmaps": cams.heatmaps[:, ::-1, ::-1].copy()}),
        pixels,
        unit,
        names,
    )
    assert pointing.metrics["deletion"].mean() < flipped.metrics["deletion"].mean()
    assert pointing.metrics["insertion"].mean() > flipped.metrics["insertion"].mean()
