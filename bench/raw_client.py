"""A lean HTTP/1.1 load generator: keep-alive POSTs over asyncio streams.

The load generator shares the machine's cores with the server it measures, so every
millisecond of client CPU shows up as server latency. httpx parses and validates far
more than a benchmark needs; this client writes prebuilt bytes and reads a status line,
headers and a Content-Length body, nothing else. Answers are checked by status only.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field


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
        try:
            reader, writer = self._idle.pop() if self._idle else await self._connect()
            writer.write(head + body)
            status, keep_alive = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            return 0
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
