"""Cascading model-parameter randomisation (Adebayo et al., 2018, "Sanity Checks for
Saliency Maps", section 3.1), always on a copy of the model.

From the output layer down, one layer at a time and cumulatively, every weight of the layer
is re-initialised by the layer's own initializer (`kernel_initializer` for `kernel`, ...),
seeded with `seed + step`; after each step the maps of the copy are compared with the
original model's by Spearman rank correlation and SSIM (`similarity`), averaged over the
instances. A method passes when the final Spearman (every layer random) is below 0.5: its
map then depends on what the model learned. The served model is never written: the copy
is `keras.models.clone_model` with the original weights copied in.

Where Quantus 0.6's `MPRT` (TensorFlow) differs: it permutes each layer's weights
(`np.random.permutation`) instead of re-drawing them, and its copy is a `clone_model`
whose weights are never set to the original's, so its first step already explains an
untrained network; its similarity functions are the ones used here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import keras
import numpy as np

from app.engine.evaluation.similarity import spearman, ssim

PASS_BELOW = 0.5  # the final mean Spearman under which a method passes
MapsOf = Callable[[], np.ndarray]  # the current copy's maps (N, ...) for the instances


@dataclass(frozen=True)
class Step:
    layer: str
    spearman: float
    ssim: float


def model_copy(model: keras.Model) -> keras.Model:
    """A new model with the same graph and a copy of `model`'s weights."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    return copy


def cascade_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers that hold weights, output side first."""
    return [layer for layer in reversed(model.layers) if layer.weights]


def initializer_of(layer: keras.layers.Layer, weight_name: str) -> keras.initializers.Initializer:
    """The layer's own initializer of a weight: `kernel` -> `kernel_initializer`,
    `depthwise_kernel` -> `depthwise_initializer`, `moving_mean` -> ..."""
    short = weight_name.removesuffix("_kernel")
    names = [f"{weight_name}_initializer", f"{short}_initializer"]
    if weight_name == "kernel":  # DepthwiseConv's weight is `kernel`, its initializer not
        names.append("depthwise_initializer")
    for attribute in names:
        found = getattr(layer, attribute, None)
        if found is not None:
            return keras.initializers.get(found)
    raise ValueError(f"layer {layer.name!r} has no initializer for its weight {weight_name!r}")


def seeded(
    initializer: keras.initializers.Initializer, seed: int
) -> keras.initializers.Initializer:
    config = initializer.get_config()
    if "seed" not in config:  # constant initializers (zeros, ones) draw nothing
        return initializer
    return type(initializer).from_config({**config, "seed": seed})


def reinitialise(layer: keras.layers.Layer, seed: int) -> None:
    """Every weight of `layer` drawn anew from its own initializer."""
    for index, variable in enumerate(layer.weights):
        initializer = seeded(initializer_of(layer, variable.name), seed * 1000 + index)
        variable.assign(initializer(variable.shape, dtype=variable.dtype))


def mean_similarity(original: np.ndarray, new: np.ndarray) -> tuple[float, float]:
    """Mean Spearman and SSIM of paired maps `(N, ...)`."""
    pairs = list(zip(original, new, strict=True))
    return (
        float(np.mean([spearman(a, b) for a, b in pairs])),
        float(np.mean([ssim(a, b) for a, b in pairs])),
    )


def cascade(
    copy: keras.Model, original_maps: np.ndarray, maps_of: MapsOf, seed: int = 0
) -> Iterator[Step]:
    """Randomise `copy` layer by layer from the top; yield the similarity after each step.

    `maps_of` computes the maps of `copy` as it is now (a compiled explainer on `copy`
    reads its variables, so it sees every step without retracing).
    """
    for step, layer in enumerate(cascade_layers(copy)):
        reinitialise(layer, seed + step)
        rho, structure = mean_similarity(original_maps, maps_of())
        yield Step(layer.name, rho, structure)


def passed(steps: list[Step]) -> bool:
    return bool(steps) and steps[-1].spearman < PASS_BELOW


def other_classes(
    labels: np.ndarray, n_classes: int, seed: int = 42, offset: int = 0
) -> np.ndarray:
    """A random class other than each label, drawn as Quantus 0.6's `RandomLogit` does
    (`np.random.seed(seed)`, one `randint(0, n_classes - 1)` per instance into the classes
    left after removing the label), so both pick the same classes for the same seed."""
    labels = np.asarray(labels, dtype=np.int64)
    if n_classes < 2:
        raise ValueError("random-logit needs a model with at least two classes")
    picks = np.random.RandomState(seed).randint(0, n_classes - 1, offset + len(labels))[offset:]
    return np.where(picks >= labels, picks + 1, picks)
