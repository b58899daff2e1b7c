"""The bundled shapes model as the service holds it, and held-out scenes with boxes."""

import io
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from app.registry.registry import load_registry
from app.registry.served import ServedModel
from training.shapes_data import make_shapes

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="session")
def shapes(tmp_path_factory) -> ServedModel:
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(MODELS_DIR / "shapes", root / "shapes")
    registry = load_registry(root)
    registry.warm_up()
    return registry.get("shapes")


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def scenes() -> tuple[list[bytes], np.ndarray, np.ndarray]:
    """Ten held-out scenes (a seed the training never used): PNGs, labels, boxes."""
    images, labels, boxes = make_shapes(10, seed=27027)
    return [png(image) for image in images], labels, boxes


def served_copy(tmp_path_factory, model: str) -> ServedModel:
    root = tmp_path_factory.mktemp("models")
    shutil.copytree(MODELS_DIR / model, root / model)
    registry = load_registry(root)
    registry.warm_up()
    return registry.get(model)


@pytest.fixture(scope="session")
def shapes_seg(tmp_path_factory) -> ServedModel:
    return served_copy(tmp_path_factory, "shapes_seg")


@pytest.fixture(scope="session")
def shapes_det(tmp_path_factory) -> ServedModel:
    return served_copy(tmp_path_factory, "shapes_det")
