"""Loading a bundled image model and its photos for the method benchmarks, by folder.

The benchmarks take `--models-dir` and `--photos-dir` so they can run on a model folder
that is not in this checkout; the card's image settings (size, resize, scaling) are
read from its `model.toml` directly.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from PIL import Image

from app.preprocess.image import to_model_array

REPO = Path(__file__).resolve().parents[1]


@dataclass
class ImageModel:
    model: keras.Model
    layer: str | None
    size: tuple[int, int]
    resize: str
    scaling: Callable[[np.ndarray], np.ndarray]
    labels: list[str]


def load_image_model(models_dir: Path, model_id: str) -> ImageModel:
    folder = models_dir / model_id
    card = tomllib.loads((folder / "model.toml").read_text())
    image = card["image"]
    model = keras.saving.load_model(folder / card["model_file"], compile=False, safe_mode=True)
    labels_file = folder / card.get("labels_file", "labels.txt")
    labels = labels_file.read_text().splitlines() if labels_file.exists() else []
    return ImageModel(
        model,
        card.get("default_layer"),
        (int(image["size"][0]), int(image["size"][1])),
        image.get("resize", "bilinear"),
        card_scaling(image),
        labels,
    )


def card_scaling(image: dict[str, object]) -> Callable[[np.ndarray], np.ndarray]:
    """0..255 pixels -> the model's input, for the scalings the benchmarks meet."""
    kind = image.get("scaling", "unit")
    if kind == "unit":
        return lambda pixels: pixels / np.float32(255.0)
    if kind == "symmetric":
        return lambda pixels: pixels / np.float32(127.5) - np.float32(1.0)
    if kind == "mean_std":
        mean = np.asarray(image["mean"], np.float32)
        std = np.asarray(image["std"], np.float32)
        return lambda pixels: (pixels - mean) / std
    if kind == "raw":
        return lambda pixels: pixels
    raise ValueError(f"scaling {kind!r} is not supported by the benchmark")


def load_photos(photos_dir: Path, loaded: ImageModel) -> tuple[list[str], np.ndarray]:
    """The `*.jpg` photos of `photos_dir`, resized for the model: names, pixels (P, H, W, 3)."""
    paths = sorted(photos_dir.glob("*.jpg"))
    if not paths:
        raise SystemExit(f"no .jpg photos in {photos_dir}")
    arrays = [to_model_array(Image.open(path), loaded.size, loaded.resize, "rgb") for path in paths]
    return [path.stem for path in paths], np.stack(arrays)
