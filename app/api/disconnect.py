"""Stop work for a client that has gone: its queue slot and threads are freed at once."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any, TypeVar

from fastapi import Request

from app.errors import ClientClosedRequest

T = TypeVar("T")


async def cancel_on_disconnect(request: Request, work: Coroutine[Any, Any, T]) -> T:
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(wait_for_disconnect(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            raise ClientClosedRequest("the client disconnected before the answer was ready")
    return task.result()


async def wait_for_disconnect(request: Request) -> None:
    """Returns when the ASGI server reports the client gone (the body is already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
