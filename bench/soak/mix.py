"""The soak's traffic: a fixed cycle of request kinds, each drawn afresh per request
(targets, words, options) from a generator seeded with the request's index.

A kind names its model, how it is sent (JSON with base64 images, a multipart upload, a
raw image body with query parameters, an Accept: image/* answer) and what it expects:
200, or any 4xx for the bad requests mixed in between.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from bench.http_load import test_image

EXPLAIN = "/v1/models/{}:explain"
WORDS = ("sahom", "gerreas", "goal", "storm", "piano", "stock", "vasho", "trilgas", "bolat")


@dataclass(frozen=True)
class Request:
    kind: str
    path: str
    send: dict[str, Any]  # httpx.post keyword arguments
    bad: bool = False  # expects a 4xx, not one of `ok`
    ok: tuple[int, ...] = (200,)
    follow_job: bool = False  # a 202's job: polled to its end, its report read


@dataclass
class Inputs:
    """What the requests send: a photo for the ImageNet model, shapes images in three
    sizes and formats (so decoding, resizing and overlays see several shapes), and each
    model's detail (layers, classes, example text)."""

    photo: bytes
    shapes: dict[str, tuple[bytes, str]]  # name -> (file, content type)
    scenes: list[Any] = field(default_factory=list)  # bench.soak.heads.Scene
    details: dict[str, dict[str, Any]] = field(default_factory=dict)

    def layers(self, model: str) -> list[str]:
        """The default layer and the candidate before it: two compiled layers a model."""
        names = [layer["name"] for layer in self.details[model]["candidate_layers"]]
        default = self.details[model]["default_layer"]
        index = names.index(default) if default in names else len(names) - 1
        return [default, names[max(0, index - 1)]]

    def classes(self, model: str) -> int:
        return int(self.details[model]["n_classes"])


def shape_images() -> dict[str, tuple[bytes, str]]:
    from training.shapes_data import make_shapes

    pixels = make_shapes(3, seed=11)[0]
    encoded = {}
    for (name, size, fmt, mime), image in zip(
        [
            ("png64", (64, 64), "PNG", "image/png"),
            ("jpeg96x80", (96, 80), "JPEG", "image/jpeg"),
            ("webp128", (128, 128), "WEBP", "image/webp"),
        ],
        pixels,
        strict=True,
    ):
        buffer = io.BytesIO()
        Image.fromarray(image).resize(size).save(buffer, fmt)
        encoded[name] = (buffer.getvalue(), mime)
    return encoded


def load_inputs() -> Inputs:
    from bench.soak.heads import make_scene_pool

    return Inputs(test_image(), shape_images(), make_scene_pool())


def b64(data: bytes) -> dict[str, str]:
    return {"b64": base64.b64encode(data).decode("ascii")}


def json_images(model: str, images: list[bytes], parameters: dict[str, Any]) -> Request:
    body = {"instances": [{"image": b64(image)} for image in images], "parameters": parameters}
    return Request(f"{model} json", EXPLAIN.format(model), {"json": body})


def form(model: str, image: tuple[bytes, str], fields: dict[str, str], **headers: str) -> Request:
    files = {"image": ("upload", image[0], image[1])}
    send = {"files": files, "data": fields, "headers": headers}
    return Request(f"{model} multipart", EXPLAIN.format(model), send)


def raw(model: str, image: tuple[bytes, str], params: dict[str, str], **headers: str) -> Request:
    send = {"content": image[0], "headers": {"content-type": image[1], **headers}, "params": params}
    return Request(f"{model} raw", EXPLAIN.format(model), send)


def texts(model: str, instances: list[dict[str, Any]], parameters: dict[str, Any]) -> Request:
    body = {"instances": instances, "parameters": parameters}
    return Request(f"{model} text", EXPLAIN.format(model), {"json": body})


def targets(rng: np.random.Generator, classes: int, most: int = 3) -> list[int]:
    return sorted({int(t) for t in rng.integers(0, classes, int(rng.integers(1, most + 1)))})


def listed(values: list[int]) -> str:
    return ",".join(map(str, values))


Kind = Callable[[np.random.Generator, Inputs], Request]
