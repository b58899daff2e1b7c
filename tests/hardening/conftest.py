"""Hardening tests: the real app, lifespan running, on a models folder of their own.

The folder holds `tiny` (a 32x32 image model built here: fast to explain) and a copy of
the bundled `keywords` text model, so these tests depend on no trained image model.
"""

import io
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import keras
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.settings import Settings

BUNDLED = Path(__file__).resolve().parents[2] / "models"
TINY = "/v1/models/tiny:explain"
KEYWORDS = "/v1/models/keywords:explain"
TINY_CARD = """id = "{id}"
task = "image"
model_file = "model.keras"
labels_file = "labels.txt"
{extra}
[image]
size = [32, 32]
scaling = "unit"
"""


def tiny_model() -> keras.Model:
    keras.utils.set_random_seed(0)
    inputs = keras.Input((32, 32, 3))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(x))


def add_tiny_model(root: Path, model_id: str = "tiny", extra: str = "", model=None) -> Path:
    folder = root / model_id
    folder.mkdir(parents=True)
    (model or tiny_model()).save(folder / "model.keras")
    (folder / "labels.txt").write_text("a\nb\nc\n")
    (folder / "model.toml").write_text(TINY_CARD.format(id=model_id, extra=extra))
    return folder


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    add_tiny_model(root)
    shutil.copytree(BUNDLED / "keywords", root / "keywords")
    return root


@pytest.fixture(scope="session")
def make_app(models_dir) -> Callable[..., FastAPI]:
    """An app on the hardening models with some settings changed."""

    def make(**overrides: object) -> FastAPI:
        values: dict[str, object] = {"models_dir": models_dir, "_env_file": None}
        return create_app(Settings(**(values | overrides)))  # type: ignore[arg-type]

    return make


@pytest.fixture(scope="session")
def client(make_app) -> Iterator[TestClient]:
    with TestClient(make_app(), raise_server_exceptions=False) as test_client:
        yield test_client


def encode(image: Image.Image, fmt: str = "PNG", **save_args: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def tiny_png() -> bytes:
    return encode(Image.linear_gradient("L").resize((32, 32)).convert("RGB"))


def assert_problem(response, status: int) -> dict:
    """The response is an application/problem+json with `status`; returns the problem."""
    assert response.status_code == status, response.text[:1000]
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"] and problem["detail"]
    return problem
