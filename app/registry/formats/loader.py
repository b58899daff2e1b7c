"""Loading the Keras model a card describes: a model file or a keras.applications net.

One loader per file format, chosen by the file's suffix (`LOADERS`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from app.engine.capture.frozen.model import FrozenModel
from app.errors import ModelError
from app.registry.card import SAVED_MODEL_FILE, ArchitectureConfig, ImageConfig, ModelCard
from app.registry.files import card_file
from app.registry.formats.keras2.load import load_keras2_h5
from app.registry.formats.savedmodel.load import is_saved_model, load_saved_model

Scaling = Callable[[np.ndarray], np.ndarray]


def load_keras3_file(path: Path) -> keras.Model:
    # safe_mode refuses Lambda layers and other arbitrary code in the file.
    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    if not isinstance(model, keras.Model):
        raise ModelError("the file does not hold a Keras model")
    return model


LOADERS: dict[str, Callable[[Path], keras.Model]] = {
    ".keras": load_keras3_file,
    ".h5": load_keras2_h5,
    ".hdf5": load_keras2_h5,
}


def model_path(models_dir: Path, card: ModelCard, folder: Path) -> Path | None:
    """What to load for one version held in `folder`: the card's `model_file` there, the
    folder itself when it is a SavedModel and the card names no file, or None for an
    `[architecture]` card."""
    if card.model_file is not None:
        return card_file(models_dir, card, card.model_file, folder)
    if card.architecture is not None:
        return None
    if (folder / SAVED_MODEL_FILE).is_file():
        return folder
    raise ModelError(
        f"model {card.id}: the card names no model_file and {folder.name}/ holds no "
        f"{SAVED_MODEL_FILE}"
    )


def load_keras_model(
    models_dir: Path, card: ModelCard, path: Path | None
) -> keras.Model | FrozenModel:
    """The model at `path` (a Keras file or a SavedModel folder, frozen) by its kind, or
    the card's `[architecture]` when `path` is None."""
    if path is None:
        assert card.architecture is not None  # model_path returns None only then
        return build_application(models_dir, card, card.architecture)
    name = card.model_file or path.name
    if is_saved_model(path):
        return load_model_file(card, path, name, lambda path: load_saved_model(path, card))
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        known = ", ".join(LOADERS)
        raise ModelError(
            f"model {card.id}: {name}: the suffix is not {known}, "
            "nor is it a SavedModel directory (saved_model.pb + variables/)"
        )
    return load_model_file(card, path, name, loader)


def load_model_file(
    card: ModelCard, path: Path, name: str, loader: Callable[[Path], keras.Model | FrozenModel]
) -> keras.Model | FrozenModel:
    try:
        return loader(path)
    except Exception as exc:  # ours are ModelErrors; Keras raises many types for a bad file
        raise ModelError(f"model {card.id}: cannot load {name}: {exc}") from exc


def build_application(models_dir: Path, card: ModelCard, arch: ArchitectureConfig) -> keras.Model:
    constructor = getattr(keras.applications, arch.name, None)
    if not callable(constructor):
        raise ModelError(f"model {card.id}: keras.applications has no {arch.name!r}")
    shape = arch.input_shape
    if arch.weights == "none":
        keras.utils.set_random_seed(arch.seed)  # random weights, reproducible
        return constructor(weights=None, input_shape=shape)
    if arch.weights == "imagenet":
        try:
            return constructor(weights="imagenet", input_shape=shape)
        except Exception as exc:  # no network, or the weights cannot be fetched
            raise ModelError(
                f"model {card.id}: could not get the imagenet weights of {arch.name} "
                f"(is the network reachable?): {exc}"
            ) from exc
    weights = card_file(models_dir, card, arch.weights)
    model = constructor(weights=None, input_shape=shape)
    try:
        model.load_weights(weights)
    except Exception as exc:
        raise ModelError(f"model {card.id}: cannot load weights {arch.weights}: {exc}") from exc
    return model


def per_channel_standardize(pixels: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """(pixels - mean) / std with `mean` and `std` per channel (the last axis).

    Computed along whole rows against the constants tiled to a row's length: the same
    float32 operations as broadcasting over the 3-long channel axis, ~5x faster (0.12
    vs 0.6 ms on a 224x224 RGB image: numpy's inner loop would be 3 elements long).
    """
    row = pixels.shape[-2] * pixels.shape[-1] if pixels.ndim >= 2 else pixels.shape[-1]
    repeats = row // len(mean)
    rows: np.ndarray = np.subtract(pixels.reshape(-1, row), np.tile(mean, repeats))
    rows /= np.tile(std, repeats)
    return rows.reshape(pixels.shape)


def image_scaling(config: ImageConfig) -> Scaling:
    """The function that maps 0..255 pixels to what the model was trained on."""
    if config.scaling == "unit":
        return lambda pixels: pixels / np.float32(255.0)
    if config.scaling == "symmetric":
        return lambda pixels: pixels / np.float32(127.5) - np.float32(1.0)
    if config.scaling == "raw":
        return lambda pixels: pixels
    if config.scaling == "mean_std":
        assert config.mean is not None and config.std is not None  # the card validator
        mean, std = np.asarray(config.mean, np.float32), np.asarray(config.std, np.float32)
        return lambda pixels: per_channel_standardize(pixels, mean, std)
    module_name = config.scaling.rsplit(".", 1)[-1]
    module = getattr(keras.applications, module_name, None)
    preprocess = getattr(module, "preprocess_input", None)
    if preprocess is None:
        raise ModelError(f"unknown scaling {config.scaling!r}: no preprocess_input there")
    return lambda pixels: np.asarray(preprocess(pixels.copy()), dtype=np.float32)
