"""Text explanations against an independent numpy computation of the reference math.

The `keywords` model is Embedding -> Conv1D(k=1, relu) -> GlobalMaxPooling1D -> Dense,
small enough to run forward and backward by hand in numpy. The service's token
heatmaps must equal that, for both padding sides and every interpolation kind.
"""

from pathlib import Path

import keras
import numpy as np
import pytest
from scipy.interpolate import interp1d

from app.explain.options import ExplainOptions, TextInput
from app.explain.texts import explain_texts
from app.registry.registry import load_registry

MODELS_DIR = Path(__file__).resolve().parents[1] / "models"
KINDS = [
    "linear",
    "nearest",
    "nearest-up",
    "zero",
    "slinear",
    "quadratic",
    "cubic",
    "previous",
    "next",
]
TOKENS = ["sahom", "gerreas", "storm", "vasho", "vutgot", "cussamam", "stiodeadem"]


@pytest.fixture(scope="module")
def served():
    registry = load_registry(MODELS_DIR)
    return registry.models["keywords"]


def numpy_gradcam(model: keras.Model, ids: np.ndarray, target: int) -> np.ndarray:
    """Raw Grad-CAM `(T,)` of the logit at `target`, relu on, all in numpy."""
    embedding, conv_kernel, conv_bias, dense_kernel, _ = model.get_weights()
    activations = np.maximum(embedding[ids] @ conv_kernel[0] + conv_bias, 0)  # (T, C)
    peak = activations.max(axis=0)
    ties = activations == peak
    # d max / d A: 1 at the maximum, shared evenly among tied positions (as TF does).
    gradients = ties / ties.sum(axis=0) * dense_kernel[:, target]
    weights = gradients.mean(axis=0)
    return np.maximum(activations @ weights, 0)


def padded(ids: list[int], side: str, length: int = 48) -> np.ndarray:
    pads = [0] * (length - len(ids))
    return np.array(ids + pads if side == "post" else pads + ids)


@pytest.mark.parametrize("side", ["post", "pre"])
@pytest.mark.parametrize("kind", KINDS)
def test_token_heatmap_matches_numpy_reference(served, side, kind):
    spec = served.text_spec
    ids = [spec.token_index[token] for token in TOKENS]
    options = ExplainOptions(targets=[2, 0], padding=side, interpolation_kind=kind, relu=True)
    result = explain_texts(served, [TextInput(tokens=TOKENS)], options)
    sequence = padded(ids, side)
    for target in result.explanations[0].targets:
        cam = numpy_gradcam(served.model, sequence, target.target)
        heatmap = cam / (np.abs(cam).max() + 1e-7)
        per_token = interp1d(np.linspace(0, 1, 48), heatmap, kind=kind)(np.linspace(0, 1, 48))
        keep = slice(0, len(ids)) if side == "post" else slice(48 - len(ids), 48)
        np.testing.assert_allclose(target.heatmap, per_token[keep], atol=1e-5)
        assert result.explanations[0].tokens == TOKENS
    weather = result.explanations[0].targets[0]
    assert int(np.argmax(weather.heatmap)) == TOKENS.index("storm")


def test_pre_and_post_padding_give_the_same_token_maps(served):
    results = [
        explain_texts(served, [TextInput(tokens=TOKENS)], ExplainOptions(padding=side))
        for side in ("post", "pre")
    ]
    maps = [r.explanations[0].targets[0].heatmap for r in results]
    np.testing.assert_allclose(maps[0], maps[1], atol=1e-6)


def test_token_cap_holds_after_tokenizing(served):
    from dataclasses import replace

    from app.errors import InvalidInput

    char_model = replace(served, text_spec=replace(served.text_spec, tokenizer="char"))
    with pytest.raises(InvalidInput, match="the text has 11 tokens; the limit is 10"):
        explain_texts(char_model, [TextInput(text="sahom goals")], ExplainOptions(max_tokens=10))
