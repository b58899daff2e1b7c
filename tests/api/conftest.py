"""The real app, with its lifespan running, on the bundled models."""

import base64
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from app.main import create_app
from app.settings import Settings
from training.shapes_data import make_shapes

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"


@pytest.fixture(scope="session")
def client() -> Iterator[TestClient]:
    app = create_app(Settings(models_dir=MODELS_DIR, _env_file=None))
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def encode(image: Image.Image, fmt: str = "PNG", **save_args: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **save_args)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.fixture(scope="session")
def shape_images() -> tuple[list[Image.Image], list[int]]:
    pixels, labels, _ = make_shapes(4, seed=4242)
    return [Image.fromarray(p) for p in pixels], labels.tolist()


@pytest.fixture(scope="session")
def shape_png(shape_images) -> bytes:
    return encode(shape_images[0][0])


def decode_data_url(url: str) -> Image.Image:
    header, payload = url.split(",", 1)
    assert header.startswith("data:image/") and header.endswith(";base64")
    return Image.open(io.BytesIO(base64.b64decode(payload)))
