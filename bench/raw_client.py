"""A lean HTTP/1.1 load generator: keep-alive POSTs over asyncio streams.

The load generator shares the machine's cores with the server it measures, so every
millisecond of client CPU shows up as server latency. httpx parses and validates far
more than a benchmark needs; this client writes prebuilt bytes and reads a status line,
headers and a Content-Length body, nothing else. Answers are checked by status only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

_FAILURES = (OSError, asyncio.IncompleteReadError, ValueError, IndexError)


@dataclass
class RawClient:
    host: str
    port: int
    _idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    async def post(self, target: str, body: bytes, content_type: str) -> int:
        """The response status (0 when the connection failed)."""
        head = (
            f"POST {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("ascii")
        while self._idle:  # a kept-alive connection the server may have closed meanwhile
            reader, writer = self._idle.pop()
            with contextlib.suppress(*_FAILURES):
                return await self._exchange(reader, writer, head + body)
            writer.close()
        try:
            return await self._exchange(*await self._connect(), head + body)
        except _FAILURES:
            return 0

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
    ) -> int:
        writer.write(request)
        status, keep_alive = await read_response(reader)
        if keep_alive:
            self._idle.append((reader, writer))
        else:
            writer.close()
        return status

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and whether the connection stays open; the body is read and dropped."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("the server closed the connection")
    status = int(status_line.split(b" ", 2)[1])
    length, keep_alive = 0, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection" and value.strip().lower() == b"close":
            keep_alive = False
    await reader.readexactly(length)
    return status, keep_alive


async def timed_post(
    client: RawClient, target: str, body: bytes, content_type: str
) -> tuple[float, int]:
    start = time.perf_counter()
    status = await client.post(target, body, content_type)
    return time.perf_counter() - start, status
