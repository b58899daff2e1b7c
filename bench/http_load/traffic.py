"""The requests the load phases send: a real photo as a raw JPEG body over a lean
keep-alive client, in a closed loop (N clients) or an open one (a fixed rate)."""

from __future__ import annotations

import asyncio
import io
import time
from dataclasses import dataclass, field

import httpx
import numpy as np
from PIL import Image

from bench.raw_client import RawClient, timed_post
from bench.server import ROOT

EXPLAIN = "/v1/models/{}:explain"
MODEL = "efficientnet_lite0"  # the bundled ImageNet classifier: a realistic model
PHOTO = ROOT / "docs" / "examples" / "motorcycle.jpg"


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)  # perf_counter when each was sent
    seconds: float = 0.0

    def ok(self) -> list[float]:
        return [t for t, s in zip(self.latencies, self.statuses, strict=True) if s == 200]

    def count(self, status: int) -> int:
        return self.statuses.count(status)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def test_image() -> bytes:
    """A 640x480 JPEG of a real photo (the motorcycle example, resized)."""
    with Image.open(PHOTO) as photo:
        image = photo.convert("RGB").resize((640, 480), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


async def send(client: httpx.AsyncClient, model: str, run: Run, **request: object) -> None:
    start = time.perf_counter()
    try:
        response = await client.post(EXPLAIN.format(model), **request)  # type: ignore[arg-type]
        status = response.status_code
    except httpx.HTTPError:  # counted as "other": the connection failed
        status = 0
    run.latencies.append(time.perf_counter() - start)
    run.statuses.append(status)


def image_request(jpeg: bytes, target: int) -> dict[str, object]:
    return {
        "content": jpeg,
        "headers": {"content-type": "image/jpeg"},
        "params": {"targets": str(target)},
    }


async def closed_loop(base: str, jpeg: bytes, clients: int, total: int) -> Run:
    run = Run()
    counter = iter(range(total))
    client = raw_client(base)

    async def worker() -> None:
        for i in counter:
            await send_image(client, jpeg, i % 1000, run)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    run.seconds = time.perf_counter() - start
    await client.close()
    return run


async def open_loop(base: str, jpeg: bytes, rate: float, seconds: float) -> Run:
    """Requests sent at a fixed rate whatever the answers: what a burst of users does."""
    run = Run()
    client = raw_client(base)
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(send_image(client, jpeg, i % 1000, run)))
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - start
    await client.close()
    return run


def raw_client(base: str) -> RawClient:
    host, port = base.removeprefix("http://").split(":")
    return RawClient(host, int(port))


async def send_image(client: RawClient, jpeg: bytes, target: int, run: Run) -> None:
    path = EXPLAIN.format(MODEL) + f"?targets={target}"
    sent = time.perf_counter()
    latency, status = await timed_post(client, path, jpeg, "image/jpeg")
    run.latencies.append(latency)
    run.statuses.append(status)
    run.sent.append(sent)
