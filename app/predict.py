"""TF Serving's REST `:predict` on a served model: its request body in, its answer out.

Row format: `{"instances": [i1, i2, ...]}` answers `{"predictions": [p1, p2, ...]}`;
columnar: `{"inputs": tensor}` answers `{"outputs": tensor}` (tensor: the batch as one
nested list). An instance is the model's input tensor without the batch axis, as TF
Serving takes it: preprocessed floats for an image model, token ids for a text model;
`{"<input name>": tensor}` names the model's one input. For an image model an instance
may also be `{"b64": "<base64 of a JPEG, PNG, WebP or GIF>"}`: decoded and preprocessed
as the card says, as `:explain` does. The answer is the model's output (its first
output, float32), what TF Serving would give for the same SavedModel.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.errors import ExplainError, InvalidImage
from app.explain.images import prepare_images
from app.preprocess.image import ImageLimits
from app.registry.served import ServedModel

SIGNATURE = "serving_default"  # the one signature a Keras model is served with
BODY_KEYS = {"instances", "inputs", "signature_name"}


class BadPredictRequest(ExplainError):
    """The body is not a TF Serving predict request this model can take (400, as TF Serving)."""

    status = 400
    title = "Invalid predict request"
    type_slug = "invalid-predict-request"


@dataclass(frozen=True)
class PredictRequest:
    instances: list[Any]
    columnar: bool  # `inputs` (answer `outputs`) rather than `instances` (`predictions`)


def parse_predict(body: object, served: ServedModel, max_instances: int) -> PredictRequest:
    if not isinstance(body, dict):
        raise BadPredictRequest("the body is a JSON object with instances or inputs")
    unknown = set(body) - BODY_KEYS
    if unknown:
        raise BadPredictRequest(f"unknown fields {sorted(unknown)}; known: {sorted(BODY_KEYS)}")
    signature = body.get("signature_name", SIGNATURE)
    if signature != SIGNATURE:
        raise BadPredictRequest(
            f"model {served.id} has no signature {signature!r}; it serves {SIGNATURE!r}"
        )
    if ("instances" in body) == ("inputs" in body):
        raise BadPredictRequest("the body has exactly one of instances or inputs")
    columnar = "inputs" in body
    values = unwrap_named(body["inputs"], served) if columnar else body["instances"]
    if not isinstance(values, list) or not values:
        raise BadPredictRequest("instances (or inputs) is a non-empty list: one entry a sample")
    if len(values) > max_instances:
        raise BadPredictRequest(f"{len(values)} instances; this server takes {max_instances}")
    instances = values if columnar else [unwrap_named(value, served) for value in values]
    return PredictRequest(instances, columnar)


def unwrap_named(value: object, served: ServedModel) -> object:
    """`{"<input name>": x}` -> x; `{"b64": ...}` and anything else stay as they are."""
    if not isinstance(value, dict) or set(value) == {"b64"}:
        return value
    name = served.input_key
    if set(value) != {name}:
        raise BadPredictRequest(
            f"inputs {sorted(value)} are not the model's; model {served.id} takes {name!r}"
        )
    return value[name]


def model_inputs(request: PredictRequest, served: ServedModel, limits: ImageLimits) -> np.ndarray:
    """The batch the model runs on: the tensors as sent, or the decoded b64 images."""
    encoded = [isinstance(v, dict) for v in request.instances]
    if all(encoded):
        if served.card.task != "image":
            raise BadPredictRequest(f"model {served.id} takes token ids, not b64 images")
        prepared = prepare_images(served, [decode_b64(v) for v in request.instances], limits)
        # A graph that decodes files runs its forward from the decoded image on.
        return prepared.pixels if served.takes_encoded_images else prepared.inputs
    if any(encoded):
        raise BadPredictRequest("instances are all b64 images or all tensors, not both")
    if served.takes_encoded_images:
        raise BadPredictRequest(f'model {served.id} takes encoded images: send {{"b64": ...}}')
    return tensor_batch(request.instances, served)


def decode_b64(value: dict[str, Any]) -> bytes:
    text = value["b64"]
    if not isinstance(text, str):
        raise InvalidImage("b64 is a string of standard base64")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidImage(f"b64 is not valid base64: {exc}") from exc


def tensor_batch(instances: list[Any], served: ServedModel) -> np.ndarray:
    """The instances as one array of the model's input dtype and shape, or a 400."""
    dtype = np.dtype(served.input_dtype)
    try:
        batch = np.asarray(instances)
    except ValueError as exc:  # ragged lists
        raise BadPredictRequest(f"instances are not tensors of one shape: {exc}") from exc
    kinds = "iub" if dtype.kind in "iu" else "iubf"
    if batch.dtype.kind not in kinds:
        wanted = "integers (token ids)" if dtype.kind in "iu" else "numbers"
        raise BadPredictRequest(f"model {served.id} takes {wanted}, not {batch.dtype.kind!r} data")
    if batch.dtype.kind == "f" and not np.isfinite(batch).all():
        raise BadPredictRequest("instances hold a NaN or infinity")
    if dtype.kind in "iu":
        check_ids(batch, served)
    expected = served.input_shape[1:]
    shape = batch.shape[1:]
    fits = len(shape) == len(expected) and all(
        e in (None, s) for e, s in zip(expected, shape, strict=True)
    )
    if not fits:
        wanted_shape = [dim if dim is not None else -1 for dim in expected]
        raise BadPredictRequest(
            f"an instance of model {served.id} has shape {wanted_shape}, not {list(shape)}"
        )
    return batch.astype(dtype)


def check_ids(batch: np.ndarray, served: ServedModel) -> None:
    """Token ids index the vocabulary (past it, the embedding lookup would fail)."""
    size = len(served.text_spec.vocab) if served.text_spec is not None else np.iinfo(np.int32).max
    if batch.size and (batch.min() < 0 or batch.max() >= size):
        raise BadPredictRequest(f"token ids of model {served.id} are 0..{size - 1}")


def predict(served: ServedModel, inputs: np.ndarray) -> np.ndarray:
    """The model's output for the batch (its compiled forward, no gradient)."""
    return served.default_gradcam().forward(inputs)


def predict_answer(outputs: np.ndarray, request: PredictRequest) -> dict[str, Any]:
    values = outputs.tolist()
    return {"outputs": values} if request.columnar else {"predictions": values}
