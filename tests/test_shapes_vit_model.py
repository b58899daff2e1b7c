"""The committed `shapes_vit` meets its card: accuracy, token layers, pointing."""

import hashlib
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.layers.lookup import candidate_layers
from app.engine.layers.tokens import TokenGrid
from app.engine.runtime.gradcam import GradCam
from training.evaluate_shapes import hits
from training.evaluate_shapes_vit import accuracy, pointing
from training.shapes_data import make_shapes

pytestmark = pytest.mark.slow

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "shapes_vit"
# Used by neither training (2026, 2027, held-out 777) nor the README figures (4242).
HELD_OUT_SEED = 31_337
POINTING_IMAGES = 200


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return keras.saving.load_model(MODEL_DIR / "model.keras", compile=False, safe_mode=True)


@pytest.fixture(scope="module")
def held_out() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return make_shapes(POINTING_IMAGES, HELD_OUT_SEED)


def test_card_says_nothing_about_tokens_and_checksum_holds() -> None:
    text = (MODEL_DIR / "model.toml").read_text()
    card = tomllib.loads(text)
    assert "token" not in text and "default_layer" not in card
    digest = hashlib.sha256((MODEL_DIR / "model.keras").read_bytes()).hexdigest()
    assert card["sha256"]["model.keras"] == digest


def test_held_out_accuracy_goal(model: keras.Model) -> None:
    images, labels, _ = make_shapes(1000, HELD_OUT_SEED + 1)
    assert accuracy(model, images, labels) >= 0.95


def test_token_layers_and_default_layer(model: keras.Model) -> None:
    grids = {ref.name: ref.grid for ref in candidate_layers(model)}
    assert grids["b1_norm1"] == grids["final_norm"] == TokenGrid(1, 8, 8)
    assert grids["patch_tokens"] == TokenGrid(0, 8, 8)
    assert "class_token" not in grids
    assert GradCam(model).layer.name == "b3_norm1"


def method_pointing(model: keras.Model, method: str, held_out: tuple) -> float:
    images, labels, boxes = held_out
    return pointing(GradCam(model, method=method), images, labels, boxes, channels=32)


@pytest.fixture(scope="module")
def attention_pointing(model, held_out) -> dict[str, float]:
    return {
        m: method_pointing(model, m, held_out) for m in ("attention-rollout", "attention-gradcam")
    }


def test_best_method_pointing_goal(attention_pointing) -> None:
    """The issue's goal: the best method points at the shape on >= 90 % of held-out
    images (measured at commit: rollout 0.95, attention-gradcam 0.97 on these 200)."""
    assert max(attention_pointing.values()) >= 0.90
    assert min(attention_pointing.values()) >= 0.90


def test_attention_methods_point_better_than_gradcam(model, held_out, attention_pointing) -> None:
    assert max(attention_pointing.values()) > method_pointing(model, "gradcam", held_out)


def test_class_maps_differ_and_peak_inside_the_image(model, held_out) -> None:
    images, labels, boxes = held_out
    pixels = images[:8].astype(np.float32) / 255
    result = GradCam(model, method="attention-gradcam").explain(pixels, [0, 1, 2, 3])
    maps = result.heatmaps.reshape(8, 4, 8, 8)
    assert np.abs(maps[:, 0] - maps[:, 1]).max() > 1e-3
    own = maps[np.arange(8), labels[:8]]
    assert hits(own, boxes[:8]).mean() >= 0.5
