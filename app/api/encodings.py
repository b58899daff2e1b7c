"""The three request encodings of `:explain`, parsed into one `ParsedExplain`.

1. `application/json`: `{"instances": [...], "parameters": {...}}` (KServe V1 style).
2. `multipart/form-data`: a file field `image` (or a field `text`) plus parameters as fields.
3. A raw image body (`image/jpeg|png|webp|gif`), parameters in the query string.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import UploadFile

from app.api.schemas import ExplainParameters, ExplainRequest, Instance
from app.errors import InvalidImage, InvalidInput, PayloadTooLarge, UnsupportedMediaType
from app.explain import TextInput
from app.settings import Settings

RAW_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
MAX_FORM_FIELDS = 16
MAX_FORM_FIELD_BYTES = 64 * 1024


@dataclass
class ParsedExplain:
    parameters: ExplainParameters
    images: list[bytes] = field(default_factory=list)
    texts: list[TextInput] = field(default_factory=list)


async def parse_explain(request: Request, settings: Settings) -> ParsedExplain:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        body = await read_body(request, settings.max_json_bytes)
        return parse_json(body, settings)
    if media_type == "multipart/form-data":
        await read_body(request, settings.max_image_bytes)
        return await parse_multipart(request, settings)
    if media_type in RAW_IMAGE_TYPES:
        body = await read_body(request, settings.max_image_bytes)
        return ParsedExplain(parameters_from_strings(request.query_params), images=[body])
    accepted = ", ".join(("application/json", "multipart/form-data", *RAW_IMAGE_TYPES))
    raise UnsupportedMediaType(
        f"content type {media_type or '(none)'!r} is not accepted; send one of {accepted}"
    )


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 as soon as it passes `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body has {declared} bytes; the limit is {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette re-reads a consumed stream from here (form parsing).
    return body


def parse_json(body: bytes, settings: Settings) -> ParsedExplain:
    try:
        parsed = ExplainRequest.model_validate_json(body, strict=True)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc
    check_instance_count(len(parsed.instances), settings)
    result = ParsedExplain(parsed.parameters)
    for index, instance in enumerate(parsed.instances):
        add_instance(result, index, instance)
    if result.images and result.texts:
        raise InvalidInput("a request holds either images or texts, not both")
    return result


def add_instance(result: ParsedExplain, index: int, instance: Instance) -> None:
    if instance.image is not None:
        try:
            result.images.append(base64.b64decode(instance.image.b64, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidImage(f"instances[{index}].image.b64 is not valid base64") from exc
    else:
        result.texts.append(TextInput(instance.text, instance.tokens, instance.doc))


async def parse_multipart(request: Request, settings: Settings) -> ParsedExplain:
    form = await request.form(
        max_files=1, max_fields=MAX_FORM_FIELDS, max_part_size=MAX_FORM_FIELD_BYTES
    )
    try:
        upload = form.get("image")
        fields = {key: value for key, value in form.items() if key not in ("image", "text")}
        text = form.get("text")
        if any(not isinstance(value, str) for value in fields.values()):
            raise InvalidInput("only the `image` field may be a file")
        parameters = parameters_from_strings(fields)  # type: ignore[arg-type]
        if isinstance(upload, UploadFile):
            return ParsedExplain(parameters, images=[await upload.read()])
        if isinstance(text, str):
            return ParsedExplain(parameters, texts=[TextInput(text=text)])
        raise InvalidInput("a multipart request needs a file field `image` or a field `text`")
    finally:
        await form.close()


def parameters_from_strings(values: Mapping[str, str]) -> ExplainParameters:
    """Form fields or query parameters (all strings) as ExplainParameters."""
    data: dict[str, object] = dict(values)
    if "targets" in data:
        data["targets"] = parse_int_list(values["targets"])
    for key in ("layer", "pad_value"):
        if key in data:
            data[key] = int_or_text(values[key])
    try:
        return ExplainParameters.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


def parse_int_list(text: str) -> list[int] | None:
    if text.strip() in ("", "null"):
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise InvalidInput(
            f"targets must be comma-separated integers, e.g. 2,3; got {text!r}"
        ) from exc


def int_or_text(text: str) -> int | str | None:
    if text in ("", "null"):
        return None
    return int(text) if text.lstrip("-").isdigit() else text


def check_instance_count(count: int, settings: Settings) -> None:
    if count > settings.max_instances:
        raise InvalidInput(f"{count} instances; at most {settings.max_instances} per request")
