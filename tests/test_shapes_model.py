"""The committed `shapes` model meets its card: figures, files, checksums."""

import hashlib
import tomllib
from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.runtime.gradcam import GradCam
from training.evaluate_shapes import evaluate
from training.shapes_data import LABELS, make_shapes

pytestmark = pytest.mark.slow

MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "shapes"
# Used by neither training (2024, 2025) nor the README figures (12345, 12346).
HELD_OUT_SEED = 31_337
MAX_MODEL_BYTES = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def model() -> keras.Model:
    return keras.saving.load_model(MODEL_DIR / "model.keras", compile=False, safe_mode=True)


@pytest.fixture(scope="module")
def card() -> dict:
    return tomllib.loads((MODEL_DIR / "model.toml").read_text())


def test_held_out_figures() -> None:
    figures = evaluate(MODEL_DIR / "model.keras", n_single=600, n_two=400, seed=HELD_OUT_SEED)
    assert figures["layer"] == "last_conv"
    assert figures["accuracy"] >= 0.98, figures
    assert figures["pointing"] >= 0.95, figures
    assert figures["two_object"] >= 0.85, figures


def test_map_is_the_class_activation_map(model: keras.Model) -> None:
    """GAP right after `last_conv` gives every cell the logit gradient W[:, k] / (h * w),
    so the engine's map is each cell's own class evidence (CAM): nothing is smeared."""
    images, labels, _ = make_shapes(32, HELD_OUT_SEED)
    pixels = images.astype(np.float32) / 255
    result = GradCam(model, "last_conv").explain(pixels, [[int(k)] for k in labels])
    features = keras.Model(model.inputs[0], model.get_layer("last_conv").output)(pixels).numpy()
    kernel = model.get_layer("class_scores").kernel.numpy()
    evidence = np.einsum("bhwc,cb->bhw", features, kernel[:, labels])
    cells = features.shape[1] * features.shape[2]
    np.testing.assert_allclose(result.cams, np.maximum(evidence, 0) / cells, atol=1e-6)


def test_architecture_contract(model: keras.Model, card: dict) -> None:
    _, height, width, _ = model.get_layer(card["default_layer"]).output.shape
    assert height >= 8 and width >= 8
    last = model.layers[-1]
    assert isinstance(last, keras.layers.Dense) and last.units == len(LABELS)
    assert last.activation is keras.activations.softmax


def test_model_file_is_small() -> None:
    assert (MODEL_DIR / "model.keras").stat().st_size < MAX_MODEL_BYTES


def test_checksums_match_the_card(card: dict) -> None:
    assert set(card["sha256"]) == {"model.keras"}
    digest = hashlib.sha256((MODEL_DIR / "model.keras").read_bytes()).hexdigest()
    assert digest == card["sha256"]["model.keras"]


def test_card_and_labels(card: dict) -> None:
    assert (card["id"], card["task"], card["score"]) == ("shapes", "image", "logit")
    assert card["image"] == {
        "size": [64, 64],
        "resize": "bilinear",
        "color_mode": "rgb",
        "scaling": "unit",
    }
    assert (MODEL_DIR / card["labels_file"]).read_text().splitlines() == list(LABELS)
