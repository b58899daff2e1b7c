"""A client that goes away cancels its work (and so frees its queue slot)."""

import asyncio

import pytest

from app.api.disconnect import cancel_on_disconnect
from app.errors import ClientClosedRequest


class FakeRequest:
    def __init__(self, disconnect_after: float | None):
        self.disconnect_after = disconnect_after

    async def receive(self):
        if self.disconnect_after is None:
            await asyncio.Event().wait()  # never disconnects
        await asyncio.sleep(self.disconnect_after)
        return {"type": "http.disconnect"}


def test_work_is_cancelled_when_the_client_disconnects():
    cancelled = asyncio.Event()

    async def slow_work():
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    async def scenario():
        with pytest.raises(ClientClosedRequest):
            await cancel_on_disconnect(FakeRequest(0.05), slow_work())
        assert cancelled.is_set()

    asyncio.run(asyncio.wait_for(scenario(), 5))


def test_result_is_returned_when_the_client_stays():
    async def quick_work():
        await asyncio.sleep(0.01)
        return 42

    async def scenario():
        return await cancel_on_disconnect(FakeRequest(None), quick_work())

    assert asyncio.run(asyncio.wait_for(scenario(), 5)) == 42


def test_work_errors_propagate():
    async def failing_work():
        raise ValueError("boom")

    async def scenario():
        await cancel_on_disconnect(FakeRequest(None), failing_work())

    with pytest.raises(ValueError, match="boom"):
        asyncio.run(asyncio.wait_for(scenario(), 5))
