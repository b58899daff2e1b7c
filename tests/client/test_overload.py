"""A real overload: a server that admits one request per model at a time, and
concurrent clients. Without retries some get the 503; with retries all get through."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator

import numpy as np
import pytest
from gradcam_client import AsyncClient, ProblemError
from PIL import Image

from tests.live_server import live_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CONCURRENT = 8


@pytest.fixture(scope="module")
def one_at_a_time(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("overload-server")
    with live_server(folder, max_queue="1", overload_queue="1") as url:
        yield url


def large_png() -> bytes:
    """1200x1200: decoding, resizing and a 1024-pixel overlay keep each request busy."""
    x, y = np.meshgrid(np.linspace(0, 255, 1200), np.linspace(0, 255, 1200))
    pixels = np.stack([x, y, (x + y) / 2], axis=-1)
    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


async def explain_all(url: str, retries: int) -> list[object]:
    image = large_png()
    async with AsyncClient(url, retries=retries, max_retry_wait=2.0, timeout=60) as client:
        await client.labels("shapes")  # the model lookup is not part of the crowd
        calls = [client.explain_image("shapes", image) for _ in range(CONCURRENT)]
        return await asyncio.gather(*calls, return_exceptions=True)


def test_concurrent_requests_without_retries_meet_503s(one_at_a_time: str):
    refusals: list[ProblemError] = []
    for _ in range(3):  # a crowd that happens to arrive one by one proves nothing: again
        outcomes = asyncio.run(explain_all(one_at_a_time, retries=0))
        refusals = [o for o in outcomes if isinstance(o, ProblemError)]
        if refusals:
            break
    assert refusals, "8 concurrent requests never overloaded a server admitting 1"
    assert all(r.status == 503 and r.retry_after == 1.0 for r in refusals)
    assert {r.title for r in refusals} <= {"Overloaded"}


def test_with_retries_every_request_gets_through(one_at_a_time: str):
    outcomes = asyncio.run(explain_all(one_at_a_time, retries=2 * CONCURRENT))
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, failures
    assert len(outcomes) == CONCURRENT
