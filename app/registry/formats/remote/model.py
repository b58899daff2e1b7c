"""A remote model as the registry holds it: its client, input key and shape, classes.

At load the endpoint's TF Serving `/metadata` is read when it offers one (the input's
key and shape; a shape that contradicts the card's `[image]` size stops the load), and
one black image is sent through `:predict`: the answer gives the number of classes and
shows the remote is ready. `/ready` asks again (`refresh_ready`).
"""

from __future__ import annotations

import base64
import io
import logging
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
from PIL import Image

from app.errors import ExplainError, ModelError
from app.registry.card import ModelCard
from app.registry.formats.loader import Scaling, image_scaling
from app.registry.formats.remote.client import RemoteClient, RemoteLimits

log = logging.getLogger(__name__)


@dataclass
class RemoteModel:
    card: ModelCard
    client: RemoteClient
    input_key: str | None  # the card's, else the metadata's (array input only)
    input_shape: tuple[int | None, ...]  # (None, H, W, C)
    scaling: Scaling  # the card's: what "array" instances hold
    n_classes: int = 0  # 0 until the remote answered once
    ready: bool = False
    error: str | None = None  # why it is not ready
    name: str = field(init=False)

    def __post_init__(self) -> None:
        self.name = self.card.id

    @property
    def url(self) -> str:
        return self.client.url

    @classmethod
    def connect(cls, card: ModelCard, transport: httpx.BaseTransport | None = None) -> RemoteModel:
        assert card.remote is not None and card.image is not None  # the card validator
        limits = RemoteLimits(
            card.remote_batch, card.remote_concurrency, card.remote_timeout, card.remote_retries
        )
        client = RemoteClient(card.remote, limits, transport)
        width, height = card.image.size
        channels = 3 if card.image.color_mode == "rgb" else 1
        shape: tuple[int | None, ...] = (None, height, width, channels)
        key = card.remote_input_key
        metadata = read_metadata(client, key)
        if metadata is not None:
            key = key or metadata[0]
            offered = metadata[1]
            if len(offered) == 4 and offered[1:] != shape[1:] and None not in offered[1:]:
                raise ModelError(
                    f"model {card.id}: the remote's metadata gives input {key!r} the shape "
                    f"{list(offered)}; the card's [image] says {list(shape)}"
                )
        input_key = key if card.remote_input == "array" else card.remote_input_key
        model = cls(card, client, input_key, shape, image_scaling(card.image))
        model.refresh_ready(probe=True)
        return model

    def instances(self, pixels: np.ndarray) -> list[Any]:
        """`:predict` instances for pixels `(M, H, W, C)` 0..255 before scaling."""
        if self.card.remote_input == "b64":
            values: list[Any] = [{"b64": png_b64(image)} for image in pixels]
        else:
            values = np.asarray(self.scaling(pixels.astype(np.float32))).tolist()
        key = self.input_key
        return values if key is None else [{key: value} for value in values]

    def predict(self, pixels: np.ndarray) -> np.ndarray:
        """Predictions `(M, n)` for pixels `(M, H, W, C)` 0..255 before scaling."""
        return self.client.predict(self.instances(pixels))

    def refresh_ready(self, probe: bool = False) -> bool:
        """Whether the remote answers its status URL (and, with `probe` or before it
        ever answered, a `:predict` of one black image)."""
        try:
            status = self.client.get()
            if status.status_code != 200:
                raise ModelError(f"{self.url} answered {status.status_code}")
            if probe or not self.n_classes:
                black = np.zeros([1, *(dim or 1 for dim in self.input_shape[1:])], np.float32)
                self.n_classes = int(self.predict(black).shape[1])
        except (ExplainError, ModelError) as exc:
            self.ready, self.error = False, getattr(exc, "detail", str(exc))
            log.warning("remote model %s is not ready: %s", self.card.id, self.error)
            return False
        self.ready, self.error = True, None
        return True

    def summary(self) -> dict[str, object]:
        return {
            "url": self.url,
            "input": self.card.remote_input,
            "input_key": self.input_key,
            "ready": self.ready,
            "error": self.error,
            "batch": self.client.limits.batch,
        }


def png_b64(pixels: np.ndarray) -> str:
    """An image `(H, W, C)` 0..255 as base64 PNG (rounded to 8 bits: PNG's depth)."""
    values = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(values[..., 0] if values.shape[-1] == 1 else values).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def read_metadata(
    client: RemoteClient, key: str | None
) -> tuple[str, tuple[int | None, ...]] | None:
    """(input key, input shape) from TF Serving's `GET .../metadata`, or None if not offered."""
    try:
        response = client.get("/metadata")
        if response.status_code != 200:
            return None
        signature = response.json()["metadata"]["signature_def"]["signature_def"]
        inputs = signature["serving_default"]["inputs"]
    except (ExplainError, ValueError, KeyError, TypeError):
        return None
    if not isinstance(inputs, dict) or not inputs or (key is None and len(inputs) != 1):
        return None
    name = str(key if key in inputs else next(iter(inputs)))
    try:
        dims = inputs[name]["tensor_shape"]["dim"]
        shape = tuple(None if int(d["size"]) < 0 else int(d["size"]) for d in dims)
    except (KeyError, TypeError, ValueError):
        return name, ()
    return name, shape
