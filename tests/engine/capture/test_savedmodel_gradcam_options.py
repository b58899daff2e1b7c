"""KPCA-CAM, FEM, ShapleyCAM (its second derivative through the imported graph), FinerCAM
and pytorch-grad-cam's options on a SavedModel's frozen graph equal the Keras model's."""

import numpy as np
import pytest

from app.engine.capture.frozen.model import FrozenModel
from app.engine.layers.lookup import resolve_layer
from app.engine.methods.options import CamOptions
from app.engine.runtime.gradcam import GradCam
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import load_saved_model
from bench.oracle_cnn import keras_model, oracle_images
from tests import savedmodels as sm

CARD = ModelCard(id="oracle", task="image", model_file="sm", image={"size": (32, 32)})
CASES = {
    "kpcacam": ("kpcacam", CamOptions(kpca_kernel="rbf"), "logit", ()),
    "fem": ("fem", CamOptions(), "logit", ()),
    "shapleycam": ("shapleycam", CamOptions(), "output", ()),
    "finercam": ("finercam", CamOptions(finer_alpha=0.5), "logit", ()),
    "eigen_smooth": ("gradcam", CamOptions(eigen_smooth=True), "logit", ()),
    "aug_smooth": ("gradcam++", CamOptions(aug_smooth=True), "logit", ()),
    "layers": ("layercam", CamOptions(), "logit", ("relu2",)),
}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    model = keras_model()
    folder = sm.export_keras3(model, tmp_path_factory.mktemp("oracle") / "sm")
    return model, load_saved_model(folder, CARD)


@pytest.mark.parametrize("case", CASES)
def test_the_frozen_graph_equals_the_keras_model(models, case):
    method, options, score, more = CASES[case]
    images = oracle_images()
    maps = []
    for model in models:
        more_refs = [
            model.resolve(name) if isinstance(model, FrozenModel) else resolve_layer(model, name)
            for name in more
        ]
        cam = GradCam(model, "last_conv", method=method, options=options, more_layers=more_refs)
        maps.append(cam.explain(images, [1, 3], score=score).cams)
    assert np.abs(maps[0]).max() > 0
    np.testing.assert_allclose(maps[1], maps[0], atol=1e-5 * np.abs(maps[0]).max())
