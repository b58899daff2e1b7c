"""The bundled efficientnet_lite0: real photos get their ImageNet classes, Grad-CAM
points at the right object, and the conversion matches a numpy forward from the
PyTorch state dict's own tensors (`tests/data/efficientnet_lite0_extract.npz`, written
by `training/convert_efficientnet_lite0.py`)."""

import shutil
from pathlib import Path

import keras
import numpy as np
import pytest

from app.explain.images import explain_images
from app.explain.options import ExplainOptions
from app.preprocess.image import ImageLimits, decode_image, to_model_array
from app.registry.registry import load_registry
from app.registry.served import ServedModel

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT / "docs" / "examples"
EXTRACT = ROOT / "tests" / "data" / "efficientnet_lite0_extract.npz"
BN_EPSILON = 1e-3  # the PyTorch port's batch_norm_epsilon
EGYPTIAN_CAT, ESPRESSO, MOPED = 285, 967, 665


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> ServedModel:
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(ROOT / "models" / "efficientnet_lite0", root / "efficientnet_lite0")
    registry = load_registry(root)
    registry.warm_up()  # as the service's start-up does; marks the model ready
    return registry.get("efficientnet_lite0")


def explain(served: ServedModel, photo: str, targets: list[int] | None = None):
    upload = (PHOTOS / photo).read_bytes()
    options = ExplainOptions(targets=targets, overlay=False)
    return explain_images(served, [upload], options, ImageLimits())


@pytest.mark.parametrize(
    ("photo", "label", "index"),
    [
        ("chelsea.jpg", "Egyptian cat", EGYPTIAN_CAT),
        ("coffee.jpg", "espresso", ESPRESSO),
        ("motorcycle.jpg", "moped", MOPED),
    ],
)
def test_top_class_of_a_photo(served, photo, label, index):
    result = explain(served, photo)
    predictions = np.array(result.predictions[0])
    assert int(predictions.argmax()) == index
    assert served.label(index) == label
    assert result.explanations[0].targets[0].target == index


def test_each_class_map_peaks_on_its_object(served):
    """cat_and_coffee.jpg: the cat fills the left half, the coffee cup the right half."""
    result = explain(served, "cat_and_coffee.jpg", [EGYPTIAN_CAT, ESPRESSO])
    cat, espresso = (np.array(t.heatmap) for t in result.explanations[0].targets)
    assert cat.shape == espresso.shape == (7, 7)
    left, right = slice(0, 3), slice(4, 7)  # column 3 straddles the seam
    assert np.unravel_index(cat.argmax(), cat.shape)[1] < 3
    assert np.unravel_index(espresso.argmax(), espresso.shape)[1] > 3
    assert cat[:, left].sum() > 3 * cat[:, right].sum()
    assert espresso[:, right].sum() > 3 * espresso[:, left].sum()


# An independent forward in numpy, from the raw PyTorch-layout tensors.


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same": the extra pixel of an odd total goes after (bottom/right)."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def windows(x: np.ndarray, kernel: int, stride: int) -> np.ndarray:
    """(H, W, C) -> (H', W', C, k, k) patches, zero-padded as TensorFlow "same"."""
    pads = [same_padding(x.shape[0], kernel, stride), same_padding(x.shape[1], kernel, stride)]
    padded = np.pad(x, [*pads, (0, 0)])
    patches = np.lib.stride_tricks.sliding_window_view(padded, (kernel, kernel), axis=(0, 1))
    return patches[::stride, ::stride]


def conv(x: np.ndarray, weight: np.ndarray, stride: int = 1) -> np.ndarray:
    """weight (O, I, k, k), PyTorch's layout."""
    return np.einsum("hwcij,ocij->hwo", windows(x, weight.shape[2], stride), weight)


def depthwise(x: np.ndarray, weight: np.ndarray, stride: int) -> np.ndarray:
    """weight (C, 1, k, k), PyTorch's layout."""
    return np.einsum("hwcij,cij->hwc", windows(x, weight.shape[2], stride), weight[:, 0])


def batch_norm(x: np.ndarray, tensors, prefix: str) -> np.ndarray:
    scale = tensors[f"{prefix}.weight"] / np.sqrt(tensors[f"{prefix}.running_var"] + BN_EPSILON)
    return (x - tensors[f"{prefix}.running_mean"]) * scale + tensors[f"{prefix}.bias"]


def relu6(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 0.0, 6.0)


@pytest.fixture(scope="module")
def keras_outputs(served) -> dict[str, np.ndarray]:
    """Layer outputs of the served Keras model on chelsea (batch of one, float64)."""
    config = served.card.image
    assert config is not None and served.scaling is not None
    image = decode_image((PHOTOS / "chelsea.jpg").read_bytes(), ImageLimits())
    pixels = served.scaling(to_model_array(image, config.size, config.resize, config.color_mode))
    names = ["stem_activation", "block1a_project_bn", "block2a_project_bn"]
    names += ["block7a_project_bn", "top_activation", "predictions"]
    model = served.model
    probe = keras.Model(model.inputs, [model.get_layer(name).output for name in names])
    outputs = probe(pixels[np.newaxis], training=False)
    values = {
        name: np.asarray(out, np.float64)[0] for name, out in zip(names, outputs, strict=True)
    }
    values["image"] = np.asarray(pixels, np.float64)
    return values


@pytest.fixture(scope="module")
def tensors() -> dict[str, np.ndarray]:
    with np.load(EXTRACT) as extract:
        return {name: extract[name].astype(np.float64) for name in extract.files}


def assert_close(numpy_result: np.ndarray, keras_result: np.ndarray) -> None:
    assert numpy_result.shape == keras_result.shape
    tolerance = 1e-4 * np.abs(numpy_result).max()
    np.testing.assert_allclose(keras_result, numpy_result, rtol=0, atol=tolerance)


def test_stem_matches_numpy(keras_outputs, tensors):
    x = conv(keras_outputs["image"], tensors["_conv_stem.weight"], stride=2)
    assert_close(relu6(batch_norm(x, tensors, "_bn0")), keras_outputs["stem_activation"])


def test_stride2_depthwise_block_matches_numpy(keras_outputs, tensors):
    """PyTorch `_blocks.1` = Keras block2a: expand 16 -> 96, 3x3 depthwise stride 2, 96 -> 24."""
    x = keras_outputs["block1a_project_bn"]
    x = relu6(
        batch_norm(conv(x, tensors["_blocks.1._expand_conv.weight"]), tensors, "_blocks.1._bn0")
    )
    x = depthwise(x, tensors["_blocks.1._depthwise_conv.weight"], stride=2)
    x = relu6(batch_norm(x, tensors, "_blocks.1._bn1"))
    x = batch_norm(conv(x, tensors["_blocks.1._project_conv.weight"]), tensors, "_blocks.1._bn2")
    assert_close(x, keras_outputs["block2a_project_bn"])


def test_head_matches_numpy(keras_outputs, tensors):
    x = conv(keras_outputs["block7a_project_bn"], tensors["_conv_head.weight"])
    features = relu6(batch_norm(x, tensors, "_bn1"))
    assert_close(features, keras_outputs["top_activation"])
    logits = tensors["_fc.weight"] @ features.mean(axis=(0, 1)) + tensors["_fc.bias"]
    # Softmax keeps logit differences: log p_i - log p_j = z_i - z_j.
    classes = tensors["_fc.classes"].astype(int)
    log_probs = np.log(keras_outputs["predictions"][classes])
    assert_close(logits - logits[0], log_probs - log_probs[0])
