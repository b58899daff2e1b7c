"""The three request encodings of `:explain`, parsed into one `ParsedExplain`.

1. `application/json`: `{"instances": [...], "parameters": {...}}` (KServe V1 style).
2. `multipart/form-data`: a file field `image` (or a field `text`, or `ids`: token ids as
   `1,2,3` or `[1, 2, 3]`) plus parameters as fields.
3. A raw image body (`image/jpeg|png|webp|gif`), parameters in the query string.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from app.api.schemas import ExplainParameters, ExplainRequest, Instance
from app.errors import (
    ClientClosedRequest,
    ExplainError,
    InvalidForm,
    InvalidImage,
    InvalidInput,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from app.explain.options import TextInput
from app.preprocess.tensor import ImageTensor, parse_tensor
from app.preprocess.text import word_count
from app.settings import Settings

RAW_IMAGE_TYPES = ("image/jpeg", "image/png", "image/webp", "image/gif")
INPUT_FIELDS = ("image", "text", "ids")
SMALL_INT = re.compile(r"-?[0-9]{1,18}")  # ASCII digits that int() takes and int64 holds


@dataclass
class ParsedExplain:
    parameters: ExplainParameters
    images: list[bytes | ImageTensor] = field(default_factory=list)
    texts: list[TextInput] = field(default_factory=list)


async def parse_explain(request: Request, settings: Settings) -> ParsedExplain:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type == "application/json":
        return parse_json(await read_body(request), settings)
    if media_type == "multipart/form-data":
        await read_body(request)
        return await parse_multipart(request, settings)
    if media_type in RAW_IMAGE_TYPES:
        body = await read_body(request)
        return ParsedExplain(parameters_from_strings(request.query_params), images=[body])
    accepted = ", ".join(("application/json", "multipart/form-data", *RAW_IMAGE_TYPES))
    raise UnsupportedMediaType(
        f"content type {media_type or '(none)'!r} is not accepted; send one of {accepted}"
    )


async def read_body(request: Request) -> bytes:
    """The whole body; BodyLimitMiddleware has already capped it (413) as it arrived."""
    chunks = []
    try:
        async for chunk in request.stream():
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientClosedRequest("the client left before the body was complete") from None
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
    check_token_counts(result.texts, settings.max_tokens)
    return result


def add_instance(result: ParsedExplain, index: int, instance: Instance) -> None:
    if instance.image is not None:
        try:
            result.images.append(base64.b64decode(instance.image.b64, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise InvalidImage(f"instances[{index}].image.b64 is not valid base64") from exc
    elif instance.tensor is not None:
        result.images.append(parse_tensor(index, instance.tensor, instance.tensor_key))
    else:
        result.texts.append(TextInput(instance.text, instance.tokens, instance.doc, instance.ids))


async def parse_multipart(request: Request, settings: Settings) -> ParsedExplain:
    form = await read_form(request, settings)
    try:
        upload = form.get("image")
        fields = {key: value for key, value in form.items() if key not in INPUT_FIELDS}
        text, ids = form.get("text"), form.get("ids")
        if any(not isinstance(value, str) for value in fields.values()):
            raise InvalidInput("only the `image` field may be a file")
        parameters = parameters_from_strings(fields)  # type: ignore[arg-type]
        if isinstance(upload, UploadFile):
            return ParsedExplain(parameters, images=[await upload.read()])
        if isinstance(text, str) and isinstance(ids, str):
            raise InvalidInput("a multipart request holds a field `text` or `ids`, not both")
        if isinstance(text, str) or isinstance(ids, str):
            item = TextInput(text=text) if isinstance(text, str) else form_ids(str(ids))
            check_token_counts([item], settings.max_tokens)
            return ParsedExplain(parameters, texts=[item])
        raise InvalidInput(
            "a multipart request needs a file field `image`, a field `text` or a field `ids`"
        )
    finally:
        await form.close()


async def read_form(request: Request, settings: Settings) -> FormData:
    """The form: one file, `max_form_fields` other fields of `max_form_field_bytes` each."""
    try:
        return await request.form(
            max_files=1,
            max_fields=settings.max_form_fields,
            max_part_size=settings.max_form_field_bytes,
        )
    except HTTPException as exc:  # Starlette reports every multipart problem as a bare 400
        raise form_error(str(exc.detail), settings) from None


def form_error(message: str, settings: Settings) -> ExplainError:
    if message.startswith(("Part exceeded", "Field exceeded")):
        limit = settings.max_form_field_bytes
        return PayloadTooLarge(f"a form field is larger than {limit} bytes ({message})")
    if message.startswith(("Too many files", "Too many fields")):
        return InvalidInput(
            f"{message} A form holds one file, `image`, and at most "
            f"{settings.max_form_fields} other fields"
        )
    return InvalidForm(f"the multipart body is malformed: {message}")


def form_ids(text: str) -> TextInput:
    """Token ids from a form field: `1,2,3` or a JSON list `[1, 2, 3]`."""
    inner = text.strip().removeprefix("[").removesuffix("]")
    parts = [part.strip() for part in inner.split(",")]
    if not all(SMALL_INT.fullmatch(part) for part in parts):
        raise InvalidInput(f"ids must be comma-separated integers, e.g. 4,17,2; got {text[:80]!r}")
    return TextInput(ids=[int(part) for part in parts])


def parameters_from_strings(values: Mapping[str, str]) -> ExplainParameters:
    """Form fields or query parameters (all strings) as ExplainParameters."""
    data: dict[str, object] = dict(values)
    if "targets" in data:
        data["targets"] = parse_targets(values["targets"])
    if "metrics" in data:
        data["metrics"] = parse_name_list(values["metrics"])
    if "finer_comparison" in data:
        data["finer_comparison"] = parse_int_list(values["finer_comparison"], "finer_comparison")
    for key in ("layer", "pad_value"):
        if key in data:
            data[key] = int_or_text(values[key])
    if "," in values.get("layer", ""):  # several layers: `relu2,last_conv`
        data["layer"] = [int_or_text(part.strip()) for part in values["layer"].split(",")]
    try:
        return ExplainParameters.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


def parse_targets(text: str) -> list[object] | None:
    """`2,3`, or the JSON text of a targets list (target objects: docs/targets.md)."""
    if text.lstrip().startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"targets is not valid JSON: {exc}") from None
        return parsed if isinstance(parsed, list) else [parsed]
    return parse_int_list(text)  # type: ignore[return-value]


def parse_int_list(text: str, name: str = "targets") -> list[int] | None:
    if text.strip() in ("", "null"):
        return None
    try:
        return [int(part) for part in text.split(",")]
    except ValueError as exc:
        raise InvalidInput(
            f"{name} must be comma-separated integers, e.g. 2,3; got {text!r}"
        ) from exc


def parse_name_list(text: str) -> list[str] | None:
    """`deletion,insertion` (or `null`) as a list of names."""
    if text.strip() in ("", "null"):
        return None
    return [part.strip() for part in text.split(",")]


def int_or_text(text: str) -> int | str | None:
    if text in ("", "null"):
        return None
    return int(text) if SMALL_INT.fullmatch(text) else text


def check_instance_count(count: int, settings: Settings) -> None:
    if count > settings.max_instances:
        raise InvalidInput(f"{count} instances; at most {settings.max_instances} per request")


def check_token_counts(texts: list[TextInput], max_tokens: int) -> None:
    """At most `max_tokens` tokens per instance, checked before any tokenizing: a text
    is counted in words, which the whitespace and char tokenizers give no fewer tokens
    than (a Keras Tokenizer may drop words: for it this caps the words sent)."""
    for index, item in enumerate(texts):
        if item.text is not None:
            count = word_count(item.text, stop_at=max_tokens + 1)
        else:
            count = max(len(item.tokens or ()), len(item.doc or ()), len(item.ids or ()))
        if count > max_tokens:
            raise InvalidInput(
                f"instances[{index}] has more than {max_tokens} tokens, the limit per instance"
            )
