"""EfficientNet-Lite0 exported with Keras 3's `model.export()`: every method's maps and the
faithfulness scores equal the `.keras` model's. The export and freeze take a minute or
two on a busy machine, so they are made once and every method is checked in one test.

The reference is the .keras model computed without BatchNormalization folding: the frozen
graph runs the same ops, while folding itself moves maps by up to ~2e-5 (float rounding
of the folded weights, see app/engine/capture/keras/fold.py and tests/engine/test_fold.py)."""

from pathlib import Path

import keras
import numpy as np
import pytest

from app.engine.capture.keras.fold import FoldPlan
from app.engine.methods import CAM_METHOD_NAMES
from app.engine.runtime.gradcam import GradCam
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import load_saved_model

MODEL = Path(__file__).resolve().parents[3] / "models" / "efficientnet_lite0" / "model.keras"
CARD = ModelCard(id="effnet", task="image", model_file="sm", image={"size": (224, 224)})
LAYER = "top_activation"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory):
    model = keras.saving.load_model(MODEL, compile=False, safe_mode=True)
    folder = tmp_path_factory.mktemp("effnet") / "saved_model"
    model.export(str(folder), verbose=False)
    return model, load_saved_model(folder, CARD)


def test_the_frozen_graph_lists_the_keras_layers(models):
    model, frozen = models
    assert frozen.auto_layer().name == LAYER
    assert frozen.logit_name is not None  # the final Softmax's input
    keras_layers = {layer.name for layer in model.layers}
    assert {ref.name for ref in frozen.candidate_layers()} <= keras_layers


def test_every_method_and_the_scores_equal_the_keras_model(models):
    model, frozen = models
    rng = np.random.default_rng(7)
    pixels = rng.uniform(0, 255, size=(2, 224, 224, 3)).astype(np.float32)
    inputs = (pixels - 127.0) / 128.0
    targets = [5, 300]
    for method in CAM_METHOD_NAMES:
        expected_cam = GradCam(model, LAYER, method=method, fold=FoldPlan({}, {}))
        got_cam = GradCam(frozen, LAYER, method=method)
        expected = expected_cam.explain(inputs, targets, max_channels=8)
        got = got_cam.explain(inputs, targets, max_channels=8)
        # FinerCAM differentiates a difference of nearly equal logits: float32 rounding
        # in the two graphs is amplified there (1.2e-5 measured on a 0..1 map).
        atol = 5e-5 if method == "finercam" else 1e-5
        np.testing.assert_allclose(got.heatmaps, expected.heatmaps, atol=atol, err_msg=method)
        np.testing.assert_allclose(got.predictions, expected.predictions, atol=1e-5)
        np.testing.assert_array_equal(got.targets, expected.targets)
        if method == "gradcam":

            def scaling(values: np.ndarray) -> np.ndarray:
                return (values - 127.0) / 128.0

            metrics = ["deletion", "insertion", "drop"]
            want = expected_cam.add_metrics(expected, pixels, scaling, metrics, steps=4)
            have = got_cam.add_metrics(expected, pixels, scaling, metrics, steps=4)
            for name in metrics:
                np.testing.assert_allclose(have.metrics[name], want.metrics[name], atol=1e-5)
