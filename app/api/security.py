"""Optional API keys: when keys are set, every route but health, the page's static files
and the problem-type pages needs one (pure ASGI).

The key is checked before routing and before a byte of the body is read. A key is sent
as `Authorization: Bearer <key>` or `X-API-Key: <key>`; keys are compared as SHA-256
digests with `hmac.compare_digest`, against every known key, so the time taken tells
nothing about the keys, not even their length.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.openapi_docs import problem_response
from app.api.refusals import refuse
from app.errors import Unauthorized
from app.settings import PRINTABLE_KEY, Settings

# Health stays open: probes carry no keys. `{model_id}` also matches the OpenAPI template.
HEALTH_PATHS = re.compile(r"/v2/health/(live|ready)|/v2/models/[^/]+/ready")
# The problem-type pages hold no data, and a client refused for its key must be able to
# read /problems/unauthorized: open to GET and HEAD.
PROBLEM_PAGES = re.compile(r"/problems(/[^/]*)?")
CHALLENGE = {"www-authenticate": 'Bearer realm="gradcam-server"'}
HOW_TO_SEND = "send Authorization: Bearer <key> or X-API-Key: <key>"


def load_api_keys(settings: Settings) -> list[bytes]:
    """The keys from the settings and the key file; empty: authentication is off."""
    keys = [key.get_secret_value() for key in settings.api_keys]
    if settings.api_keys_file is not None:
        keys += read_key_file(settings.api_keys_file)
    return [key.encode("ascii") for key in keys]


def read_key_file(path: Path) -> list[str]:
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    keys = [line for line in lines if line and not line.startswith("#")]
    # A file that was meant to hold keys but holds none must not silently open the service.
    if not keys or not all(PRINTABLE_KEY.fullmatch(key) for key in keys):
        raise ValueError(
            f"GRADCAM_API_KEYS_FILE {path}: needs at least one key, one a line, "
            "printable ASCII without spaces"
        )
    return keys


class ApiKeyMiddleware:
    def __init__(
        self, app: ASGIApp, keys: Sequence[bytes], public_paths: Sequence[str] = ()
    ) -> None:
        self.app = app
        self.digests = [hashlib.sha256(key).digest() for key in keys]
        # The page's static files: a browser loads them without a key, then the page
        # sends the key the person types with each API call.
        self.public_paths = frozenset(public_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or HEALTH_PATHS.fullmatch(path)
            or (scope.get("method") in ("GET", "HEAD") and self.is_public(path))
        ):
            await self.app(scope, receive, send)
            return
        presented = presented_keys(Headers(scope=scope))
        # Every key the request carries must be valid: a wrong bearer token next to a
        # good X-API-Key is a client (or proxy) mistake, not a pass.
        if presented and all([self.is_known(key) for key in presented]):
            await self.app(scope, receive, send)
            return
        detail = "the API key is not valid" if presented else "this route needs an API key"
        error = Unauthorized(f"{detail}: {HOW_TO_SEND}", headers=CHALLENGE)
        await refuse(error, scope, receive, send)

    def is_public(self, path: str) -> bool:
        return path in self.public_paths or bool(PROBLEM_PAGES.fullmatch(path))

    def is_known(self, key: bytes) -> bool:
        digest = hashlib.sha256(key).digest()
        matches = [hmac.compare_digest(digest, known) for known in self.digests]  # no early exit
        return any(matches)


def presented_keys(headers: Headers) -> list[bytes]:
    """The keys a request carries: a bearer token and/or an X-API-Key header."""
    keys = []
    scheme, _, token = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        keys.append(token.strip())
    if api_key := headers.get("x-api-key", "").strip():
        keys.append(api_key)
    return [key.encode("latin-1") for key in keys]


SECURITY_SCHEMES = {
    "bearerKey": {"type": "http", "scheme": "bearer", "description": "an API key"},
    "headerKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
}


def document_api_keys(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document of a service with keys on: schemes, and 401 on every guarded
    operation."""
    schema.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    unauthorized = problem_response(
        "Unauthorized", f"this route needs an API key: {HOW_TO_SEND}", 401
    )
    for path, operations in schema.get("paths", {}).items():
        if HEALTH_PATHS.fullmatch(path) or PROBLEM_PAGES.fullmatch(path):
            continue
        for operation in operations.values():
            operation["security"] = [{"bearerKey": []}, {"headerKey": []}]
            operation.setdefault("responses", {})["401"] = unauthorized
    return schema
