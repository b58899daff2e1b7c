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
from pydantic import ValidationError

from app.errors import ExplainError, ModelError
from app.registry.card import ImageConfig, ModelCard
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


@dataclass(frozen=True)
class RemoteInput:
    """The signature's input as TF Serving's `GET .../metadata` describes it."""

    key: str
    dtype: str  # "DT_FLOAT", "DT_STRING" (a b64 signature: encoded images), ...
    shape: tuple[int | None, ...] | None  # None: no shape given; None dims: any size

    @property
    def image_shape(self) -> tuple[int, int, int] | None:
        """(height, width, channels) when the input is one batch of such images."""
        shape = self.shape
        if shape is None or len(shape) != 4 or self.dtype == "DT_STRING":
            return None
        height, width, channels = shape[1:]
        if height is None or width is None or channels is None:
            return None
        return height, width, channels


def read_metadata(client: RemoteClient, key: str | None) -> RemoteInput | str:
    """The input TF Serving's `GET .../metadata` describes, or why there is none."""
    try:
        response = client.get("/metadata")
    except ExplainError as exc:
        return f"GET {client.url}/metadata failed: {exc.detail}"
    if response.status_code != 200:
        return f"GET {client.url}/metadata answered {response.status_code}"
    try:
        signature = response.json()["metadata"]["signature_def"]["signature_def"]
        inputs = signature["serving_default"]["inputs"]
    except (ValueError, KeyError, TypeError):
        return f"GET {client.url}/metadata has no serving_default signature's inputs"
    if not isinstance(inputs, dict) or not inputs:
        return f"GET {client.url}/metadata lists no inputs"
    if key is None and len(inputs) != 1:
        return f"GET {client.url}/metadata lists {len(inputs)} inputs; the card names none"
    name = str(key if key in inputs else next(iter(inputs)))
    tensor = inputs[name] if isinstance(inputs[name], dict) else {}
    try:
        dims = tensor["tensor_shape"]["dim"]
        shape = tuple(None if int(d["size"]) < 0 else int(d["size"]) for d in dims)
    except (KeyError, TypeError, ValueError):
        shape = None
    return RemoteInput(name, str(tensor.get("dtype", "")), shape)


def image_config(card: ModelCard, metadata: RemoteInput | str, url: str) -> ImageConfig:
    """The card's `[image]` with its size: the card's own, else the one the metadata's
    input shape gives. A card without a size and a remote without a usable shape is
    refused (ModelError), saying what to add."""
    config = card.image or ImageConfig()
    offered = metadata.image_shape if isinstance(metadata, RemoteInput) else None
    advice = "give the card an [image] size = [width, height]"
    if config.size is not None:
        width, height = config.size
        channels = 3 if config.color_mode == "rgb" else 1
        # An array goes to the remote as it is: a shape it does not take fails every call.
        # Encoded images (b64) the remote decodes and sizes itself: the card's size wins.
        contradicted = offered is not None and offered != (height, width, channels)
        if contradicted and card.remote_input == "array":
            assert isinstance(metadata, RemoteInput)
            raise ModelError(
                f"model {card.id}: the remote's metadata gives input {metadata.key!r} the "
                f"shape {shape_text(metadata.shape)}; the card's [image] says "
                f"{[-1, height, width, channels]}"
            )
        return config
    if isinstance(metadata, str):
        raise ModelError(
            f"model {card.id}: the card gives no [image] size and the remote {url} offers no "
            f"metadata to read the input shape from ({metadata}): {advice}"
        )
    if offered is None:
        if metadata.dtype == "DT_STRING":
            why = (
                f"a string tensor of shape {shape_text(metadata.shape)} (encoded images, "
                "TF Serving's b64 signature), which has no height or width"
            )
        else:
            why = (
                f"the shape {shape_text(metadata.shape)}, not [batch, height, width, "
                "channels] with the last three known"
            )
        raise ModelError(
            f"model {card.id}: the card gives no [image] size and the remote's metadata "
            f"gives input {metadata.key!r} {why}: {advice}"
        )
    height, width, channels = offered
    if channels not in (1, 3):
        raise ModelError(
            f"model {card.id}: the remote's metadata gives input {metadata.key!r} "
            f"{channels} channels; an image model takes 1 (grayscale) or 3 (rgb)"
        )
    color_mode = "rgb" if channels == 3 else "grayscale"
    given = card.image is not None and "color_mode" in card.image.model_fields_set
    if given and config.color_mode != color_mode:
        raise ModelError(
            f"model {card.id}: the remote's metadata gives input {metadata.key!r} "
            f"{channels} channels; the card's [image] says color_mode = "
            f"{config.color_mode!r}"
        )
    fields = config.model_dump(exclude_none=True, exclude={"size", "color_mode"})
    try:
        return ImageConfig.model_validate(
            fields | {"size": (width, height), "color_mode": color_mode}
        )
    except ValidationError as exc:
        raise ModelError(f"model {card.id}: [image] with the remote's input shape: {exc}") from exc


def shape_text(shape: tuple[int | None, ...] | None) -> str:
    """A shape as TF Serving writes it: -1 for any size."""
    return "unknown" if shape is None else str([-1 if dim is None else dim for dim in shape])
