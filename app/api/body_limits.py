"""Request bodies capped while they arrive and timed out when they stall (pure ASGI).

This runs before routing and sees every `receive`, so the cap also holds for chunked
bodies without Content-Length and for any code that reads the body: nothing past the
limit is ever buffered or spooled. JSON bodies get `max_json_bytes`, every other body
(images, multipart) `max_image_bytes`; an `:audit` body `audit_max_bytes`.
"""

from __future__ import annotations

import anyio
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.refusals import carries_body, refuse
from app.errors import PayloadTooLarge, RequestTimeout
from app.settings import Settings


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.json_bytes = settings.max_json_bytes
        self.upload_bytes = settings.max_image_bytes
        self.read_timeout = settings.body_read_timeout
        self.audit_bytes = settings.audit_max_bytes  # an audit carries a labelled set

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(headers.get("content-type", ""))
        if scope["path"].endswith(":audit"):
            limit = self.audit_bytes
        declared = headers.get("content-length", "").strip()
        if declared.isdigit() and int(declared) > limit:
            error = PayloadTooLarge(f"the body has {declared} bytes; the limit is {limit}")
            await refuse(error, scope, receive, send)
            return
        body = LimitedBody(receive, limit, self.read_timeout, pending=carries_body(headers))
        await self.app(scope, body.receive, body.closing(send))

    def limit_for(self, content_type: str) -> int:
        media_type = content_type.split(";")[0].strip().lower()
        is_json = media_type == "application/json" or media_type.endswith("+json")
        return self.json_bytes if is_json else self.upload_bytes


class LimitedBody:
    """The app's `receive`: counts body bytes, refuses past `limit`, times out stalls.

    The errors are raised inside the app, whose handler turns them into problem+json.
    """

    def __init__(self, receive: Receive, limit: int, timeout: float, *, pending: bool) -> None:
        self._receive = receive
        self.limit = limit
        self.timeout = timeout
        self.pending = pending  # body bytes may still arrive
        self.refused = False  # this body was refused (too large, stalled): never drained
        self.size = 0

    async def receive(self) -> Message:
        if not self.pending:  # after the body: disconnect listeners wait as long as they like
            return await self._receive()
        try:
            with anyio.fail_after(self.timeout):
                message = await self._receive()
        except TimeoutError:
            self.refused = True
            raise RequestTimeout(
                f"no part of the request body arrived for {self.timeout:g} s"
            ) from None
        if message["type"] != "http.request":
            self.pending = False
            return message
        self.size += len(message.get("body", b""))
        if self.size > self.limit:
            self.refused = True
            raise PayloadTooLarge(f"the body is larger than the limit of {self.limit} bytes")
        self.pending = bool(message.get("more_body", False))
        return message

    def closing(self, send: Send) -> Send:
        """`send` for an app that may answer before the whole body arrived (an unknown
        model, a bad option): the rest of the body is read and dropped first, within the
        limit, so the client still sending gets the answer and not a connection reset
        (closing a socket with unread data resets it). A refused body (413, 408) is not
        read on: the connection closes."""

        async def send_closing(message: Message) -> None:
            started = message["type"] == "http.response.start"
            if started and self.pending and not await self.drained():
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        return send_closing

    async def drained(self) -> bool:
        """Read the rest of the body and drop it; False when it cannot be (refused, too
        large, stalled, or the client left)."""
        try:
            while self.pending and not self.refused:
                if (await self.receive())["type"] != "http.request":
                    return False
        except (PayloadTooLarge, RequestTimeout):
            return False
        return not self.refused
