"""BatchNormalization folding in a frozen graph: same outputs, fewer ops, kept layers."""

import numpy as np
import pytest
import tensorflow as tf

from app.engine.capture.frozen.capture import import_frozen
from app.registry.card import ModelCard
from app.registry.formats.savedmodel.load import load_saved_model
from tests import savedmodels as sm

CARD = ModelCard(id="m", task="image", model_file="sm", image={"size": (16, 16)})


@pytest.fixture(scope="module")
def frozen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fold") / "keras3"
    return load_saved_model(sm.export_keras3(sm.small_cnn(), folder), CARD)


def run(graph_def, model, x: np.ndarray, returns: list[str]) -> list[np.ndarray]:
    function = tf.function(lambda t: import_frozen(graph_def, {model.input_name: t}, returns))
    return [value.numpy() for value in function(tf.constant(x))]


def folded_ops(graph_def) -> int:
    return sum(node.name.endswith("/folded_bias") for node in graph_def.node)


def test_the_norm_after_the_first_convolution_is_folded(frozen):
    folded = frozen.graph_for(frozenset())
    assert folded_ops(folded) == 1
    x = np.random.default_rng(0).random((3, 16, 16, 3), dtype=np.float32)
    bn = frozen.tensor_of(("bn",))  # the folded chain's last op keeps its name
    returns = [frozen.output_name, bn]
    for got, want in zip(
        run(folded, frozen, x, returns), run(frozen.graph_def, frozen, x, returns), strict=True
    ):
        np.testing.assert_allclose(got, want, atol=1e-5)


def test_a_kept_convolution_output_is_not_folded(frozen):
    assert folded_ops(frozen.graph_for(frozenset({frozen.tensor_of(("conv2d",))}))) == 0
