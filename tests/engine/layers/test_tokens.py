"""Token layers as grids: inference, card hints, candidates, the default layer, refusals."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from app.engine.layers.lookup import candidate_layers, resolve_layer
from app.engine.layers.tokens import NoTokenGrid, TokenGrid, TokenHints, token_grid
from app.engine.runtime.gradcam import GradCam
from app.errors import InvalidInput
from tests.engine.conftest import round_trip
from tests.engine.vit_models import WIDTH, tiny_vit


@pytest.mark.parametrize(
    ("tokens", "size", "expected"),
    [
        (65, (64, 64), TokenGrid(1, 8, 8)),  # ViT: class token + 8x8
        (197, (224, 224), TokenGrid(1, 14, 14)),  # ViT-B/16
        (198, (224, 224), TokenGrid(2, 14, 14)),  # DeiT: class + distillation
        (50, (224, 224), TokenGrid(1, 7, 7)),  # ViT-B/32
        (1 + 8 * 16, (64, 128), TokenGrid(1, 8, 16)),  # wide input
        (24, (16, 24), TokenGrid(0, 4, 6)),  # no prefix, 2:3
        (3136, (224, 224), TokenGrid(0, 56, 56)),  # Swin stages: 4, 8, 16, 32 px
        (784, (224, 224), TokenGrid(0, 28, 28)),
        (49, (224, 224), TokenGrid(0, 7, 7)),
        (5 + 4 * 5, (28, 35), TokenGrid(5, 4, 5)),  # class + 4 registers, stride 7
    ],
)
def test_grid_inferred_from_count_and_aspect(tokens, size, expected):
    assert token_grid(tokens, size) == expected


def test_smallest_prefix_wins_and_card_hints_override():
    # 17 = 1 + 4x4 = 8 + 3x3: the smaller prefix is taken unless the card says otherwise.
    assert token_grid(17, (32, 32)) == TokenGrid(1, 4, 4)
    assert token_grid(17, (32, 32), TokenHints(prefix=8)) == TokenGrid(8, 3, 3)
    assert token_grid(17, (32, 32), TokenHints(grid=(3, 3))) == TokenGrid(8, 3, 3)
    # A card grid that does not fit this layer's count leaves the layer to inference.
    assert token_grid(65, (64, 64), TokenHints(grid=(3, 3), prefix=8)) == TokenGrid(1, 8, 8)


@pytest.mark.parametrize(("tokens", "size"), [(35, (64, 64)), (1, (64, 64)), (65, (64, 128))])
def test_counts_that_fit_no_grid(tokens, size):
    with pytest.raises(NoTokenGrid, match="aspect"):
        token_grid(tokens, size)


def test_grid_round_trip_keeps_prefix_tokens():
    grid = TokenGrid(2, 3, 4)
    tokens = tf.random.normal([2, 14, 5])
    patches = grid.to_grid(tokens)
    np.testing.assert_array_equal(patches.numpy(), tokens.numpy()[:, 2:].reshape(2, 3, 4, 5))
    back = grid.to_tokens(patches * 0.0, like=tokens)
    np.testing.assert_array_equal(back.numpy()[:, :2], tokens.numpy()[:, :2])
    assert not back.numpy()[:, 2:].any()


@pytest.fixture(scope="module")
def vit(tmp_path_factory):
    return round_trip(tiny_vit(prefix=2), tmp_path_factory.mktemp("vit"))


def test_candidates_carry_their_grid(vit):
    refs = {ref.name: ref for ref in candidate_layers(vit)}
    assert refs["patches"].grid is None  # a convolution stays a convolution
    assert refs["patch_tokens"].grid == TokenGrid(0, 4, 6)
    for name in ("tokens", "b1_norm1", "b1_attn", "b2_mlp1", "b2_out", "final_norm"):
        assert refs[name].grid == TokenGrid(2, 4, 6), name
    assert "prefix_tokens" not in refs  # (B, 2, C): no 2x2 grid


def test_default_layer_is_last_with_patch_gradient(vit):
    """The last block's output, MLP and attention feed only the class token onwards:
    the probe finds the last block's first norm, whatever the names."""
    assert resolve_layer(vit, None).name == "b2_norm1"


def test_card_hints_choose_the_grid(vit):
    ref = resolve_layer(vit, "b1_norm1", TokenHints(grid=(4, 6), prefix=2))
    assert ref.grid == TokenGrid(2, 4, 6)


def test_token_layer_without_grid_is_refused_naming_it(tmp_path):
    keras.utils.set_random_seed(4)
    inputs = keras.Input((64, 64, 3))
    x = keras.layers.Conv2D(WIDTH, 8, strides=8, name="patches")(inputs)
    x = keras.layers.Reshape((64, WIDTH))(x)
    x = keras.layers.Dense(35 * WIDTH, name="odd")(keras.layers.Flatten()(x))
    x = keras.layers.Reshape((35, WIDTH), name="odd_tokens")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(x))
    model = round_trip(keras.Model(inputs, outputs, name="odd"), tmp_path)
    assert "odd_tokens" not in [ref.name for ref in candidate_layers(model)]
    with pytest.raises(InvalidInput) as caught:
        resolve_layer(model, "odd_tokens")
    message = str(caught.value)
    assert "'odd_tokens'" in message and "(None, 35, 8)" in message
    assert "35, 34, 33, 32, 31, 30, 29, 28, 27 patch tokens" in message and "64x64" in message


def test_swin_like_stages_get_their_own_grids(tmp_path):
    keras.utils.set_random_seed(5)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(WIDTH, 4, strides=4)(inputs)
    x = keras.layers.Reshape((64, WIDTH), name="stage1")(x)
    x = keras.layers.LayerNormalization(name="stage1_norm")(x)
    x = keras.layers.Reshape((8, 8, WIDTH))(x)
    x = keras.layers.Conv2D(2 * WIDTH, 2, strides=2, name="merge")(x)  # patch merging
    x = keras.layers.Reshape((16, 2 * WIDTH), name="stage2")(x)
    x = keras.layers.Dense(2 * WIDTH, name="stage2_mlp")(x)
    outputs = keras.layers.Dense(3, activation="softmax")(keras.layers.GlobalAveragePooling1D()(x))
    model = round_trip(keras.Model(inputs, outputs, name="swinish"), tmp_path)
    refs = {ref.name: ref.grid for ref in candidate_layers(model)}
    assert refs["stage1"] == refs["stage1_norm"] == TokenGrid(0, 8, 8)
    assert refs["stage2"] == refs["stage2_mlp"] == TokenGrid(0, 4, 4)
    # The last stage's patch tokens reach the (pooling) head: it is the default.
    assert resolve_layer(model, None).name == "stage2_mlp"
    maps = GradCam(model, "stage1_norm").explain(np.random.default_rng(0).random((2, 32, 32, 3)))
    assert maps.heatmaps.shape == (2, 8, 8)
