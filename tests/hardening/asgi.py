"""Driving the ASGI app by hand: bodies that arrive in pieces, pause, or stall.

The test client hands the app each body whole; these tests need to see what the app
does while a body is still arriving, and how much of it the app ever pulled.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import anyio
from fastapi.testclient import TestClient


@dataclass
class Exchange:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    bytes_pulled: int = 0  # body bytes the app asked for with `receive`


def call(
    client: TestClient,
    path: str,
    headers: dict[str, str],
    pieces: Sequence[bytes | float],
    method: str = "POST",
) -> Exchange:
    """Send `pieces` as the body: bytes are sent, a float pauses that many seconds.

    Runs on the client's event loop (its lifespan has started the app). No
    Content-Length is added: without one the body is chunked, as a streaming upload.
    """
    return client.portal.call(_call, client.app, path, headers, list(pieces), method)


async def _call(app, path, headers, pieces, method) -> Exchange:
    exchange = Exchange()
    answered = anyio.Event()

    async def receive() -> dict:
        while pieces and isinstance(pieces[0], float):
            await anyio.sleep(pieces.pop(0))
        if pieces:
            chunk = pieces.pop(0)
            exchange.bytes_pulled += len(chunk)
            more = any(isinstance(p, bytes) for p in pieces)
            return {"type": "http.request", "body": chunk, "more_body": more}
        await answered.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            exchange.status = message["status"]
            exchange.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            exchange.body += message.get("body", b"")
            if not message.get("more_body"):
                answered.set()

    raw_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if not any(k == b"content-length" for k, _ in raw_headers):
        raw_headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": raw_headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "root_path": "",
        "state": {},
    }
    await app(scope, receive, send)
    return exchange
