"""Overload through the real app: a full queue is a fast 503 with Retry-After, a missed
deadline a 504, both problem+json (the queue itself is the engine's batcher)."""

import asyncio
import time

import httpx
from fastapi.testclient import TestClient

from tests.hardening.conftest import KEYWORDS

BODY = {"instances": [{"text": "goal storm"}] * 8}


def fire_together(client: TestClient, count: int) -> list[httpx.Response]:
    """`count` explain requests sent at the same moment, on the app's own event loop."""

    async def fire() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as session:
            return list(
                await asyncio.gather(*[session.post(KEYWORDS, json=BODY) for _ in range(count)])
            )

    return client.portal.call(fire)


def test_a_full_queue_answers_503_with_retry_after_at_once(make_app):
    with TestClient(make_app(max_queue=1, max_batch_size=1)) as client:
        started = time.perf_counter()
        responses = fire_together(client, 40)
        elapsed = time.perf_counter() - started
    statuses = [r.status_code for r in responses]
    assert set(statuses) == {200, 503}, statuses
    refused = [r for r in responses if r.status_code == 503]
    assert all(r.headers["retry-after"] == "1" for r in refused)
    assert all(r.headers["content-type"] == "application/problem+json" for r in refused)
    assert refused[0].json()["title"] == "Overloaded"
    assert elapsed < 10  # refused, not queued behind the others


def test_a_missed_deadline_is_504(make_app):
    with TestClient(make_app(request_timeout=1e-6)) as client:
        response = client.post(KEYWORDS, json=BODY)
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
