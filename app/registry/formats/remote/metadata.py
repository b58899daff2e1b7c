"""A remote model's TF Serving `GET .../metadata`: the signature's input (key, dtype,
shape), and the card's `[image]` completed from it.

The shape is `metadata.signature_def.signature_def.serving_default.inputs.<key>
.tensor_shape.dim[*].size`, -1 for any size (the batch). A card's own `[image] size`
wins; without one the metadata's `[-1, height, width, channels]` gives it, and a remote
that gives none (no metadata, a b64 signature's string tensor, sizes left open) is
refused at load, saying what to add.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from app.errors import ExplainError, ModelError
from app.registry.card import ImageConfig, ModelCard
from app.registry.formats.remote.client import RemoteClient


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
