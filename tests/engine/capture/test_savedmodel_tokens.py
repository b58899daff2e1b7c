"""A vision transformer served from a SavedModel: its token layers are patch grids and
its default layer is found by the same gradient probe as for the Keras model."""

import numpy as np
import pytest

from app.engine.layers.lookup import resolve_layer
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import load_saved_model
from tests import savedmodels as sm
from tests.engine.vit_models import tiny_vit

SIZE = (16, 24)  # (H, W): a 4x6 grid of 4-pixel patches after one class token
CARD = ModelCard(id="vit", task="image", model_file="sm", image={"size": (SIZE[1], SIZE[0])})


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    model = tiny_vit(size=SIZE, prefix=1, blocks=2)
    folder = sm.export_keras3(model, tmp_path_factory.mktemp("vit") / "sm")
    return model, load_saved_model(folder, CARD)


def test_token_layers_are_candidates_with_their_grid(vit):
    _, frozen = vit
    layers = {ref.name: ref for ref in frozen.candidate_layers()}
    for name in ("b1_norm1", "b2_norm1", "b2_out"):
        grid = layers[name].grid
        assert grid is not None and (grid.prefix, grid.height, grid.width) == (1, 4, 6)
    assert layers["patches"].grid is None  # the patch convolution stays a (B, H, W, C) layer


def test_the_default_layer_is_the_keras_models(vit):
    model, frozen = vit
    assert frozen.resolve(None).name == resolve_layer(model, None).name == "b2_norm1"


@pytest.mark.parametrize("method", ["gradcam", "layercam", "ablationcam"])
def test_maps_on_a_token_layer_equal_the_keras_models(vit, method):
    model, frozen = vit
    images = np.random.default_rng(5).random((2, *SIZE, 3), dtype=np.float32)
    served = GradCam(frozen, "b1_norm1", method=method).explain(images, [0, 2])
    keras_ref = resolve_layer(model, "b1_norm1")
    expected = GradCam(model, keras_ref, method=method).explain(images, [0, 2])
    assert served.heatmaps.shape == (4, 4, 6)  # 2 images x 2 targets, on the 4x6 grid
    np.testing.assert_allclose(served.cams, expected.cams, atol=1e-5)


def test_a_token_layer_that_fits_no_grid_is_a_422(vit):
    _, frozen = vit
    with pytest.raises(InvalidInput, match="fits no token grid"):
        frozen.resolve("class_output")  # one token: no grid
