"""A remote model as the registry holds it: its client, input key and shape, classes.

At load the endpoint's TF Serving `/metadata` is read when it offers one: the input's
key, and its shape, which gives the image size when the card's `[image]` has none (an
array input whose shape contradicts the card's size stops the load). Then one black
image is sent through `:predict`: the answer gives the number of classes and shows the
remote is ready. `/ready` asks again (`refresh_ready`).
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
from app.registry.formats.remote.metadata import RemoteInput, image_config, read_metadata

log = logging.getLogger(__name__)


@dataclass
class RemoteModel:
    card: ModelCard
    client: RemoteClient
    input_key: str | None  # the card's, else the metadata's (array input only)
    input_shape: tuple[int | None, ...]  # (None, H, W, C)
    scaling: Scaling  # the card's: what "array" instances hold
    n_classes: int = 0  # 0 until the remote answered once
    signature_key: str | None = None  # the input's name, the card's or the metadata's
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
        """The remote of `card`, its metadata read (the card's `image` completed from it
        when the card gives no size) and probed once."""
        assert card.remote is not None  # the card validator
        limits = RemoteLimits(
            card.remote_batch, card.remote_concurrency, card.remote_timeout, card.remote_retries
        )
        client = RemoteClient(card.remote, limits, transport)
        metadata = read_metadata(client, card.remote_input_key)
        image = image_config(card, metadata, client.url)
        card = card.model_copy(update={"image": image})
        assert image.size is not None
        width, height = image.size
        shape = (None, height, width, 3 if image.color_mode == "rgb" else 1)
        key = card.remote_input_key
        if key is None and isinstance(metadata, RemoteInput):
            key = metadata.key
        input_key = key if card.remote_input == "array" else card.remote_input_key
        model = cls(card, client, input_key, shape, image_scaling(image), signature_key=key)
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
