"""Drive the soak: clients over the request cycle, the warm-up, the swap, the marks."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.server import metric_sum, rss_mb, scrape
from bench.soak.kinds import all_kinds
from bench.soak.mix import Inputs, Kind, Request, json_images
from bench.soak.repository import VERSIONED, publish

SWAP_DEADLINE = 180.0  # seconds for version 2 to answer once published
JOB_DEADLINE = 300.0  # seconds for an audit job to end once accepted


@dataclass
class Tally:
    answers: Counter[tuple[str, int]] = field(default_factory=Counter)  # (kind, status)
    unexpected: list[str] = field(default_factory=list)  # the first few
    versions: Counter[str] = field(default_factory=Counter)  # shapes_v's model_version
    sent: int = 0

    def record(self, request: Request, status: int, version: str | None, why: str = "") -> None:
        self.sent += 1
        self.answers[(request.kind, status)] += 1
        if request.path.startswith(f"/v1/models/{VERSIONED}:") and version is not None:
            self.versions[version] += 1
        expected = 400 <= status < 500 if request.bad else status in request.ok
        if not expected:
            self.unexpected.append(f"{request.kind}: {status} {why[:200]}")

    @property
    def failures(self) -> int:
        return len(self.unexpected)


@dataclass(frozen=True)
class Mark:
    """The server as read at one moment: resident MB, process traces, per-model traces."""

    requests: int
    rss_mb: float
    traces: float
    model_traces: dict[str, float]


def read_mark(base: str, pid: int, requests: int, models: list[str]) -> Mark:
    values = scrape(base)
    per_model = {m: metric_sum(values, "gradcam_traces{", model=m) for m in models}
    traces = metric_sum(values, "gradcam_process_traces_total")
    return Mark(requests, rss_mb(pid), traces, per_model)


@dataclass
class Soak:
    base: str
    pid: int
    versioned_folder: Path
    inputs: Inputs
    clients: int = 4
    kinds: list[Kind] = field(default_factory=all_kinds)
    tally: Tally = field(default_factory=Tally)
    samples: list[tuple[int, float]] = field(default_factory=list)  # (requests, RSS MB)

    async def phase(
        self, indices: range, until: float, at: dict[int, Callable[[], None]] | None = None
    ) -> None:
        """Send requests `indices` from `clients` clients (stopping at `until`, a
        monotonic time); `at[i]` runs when request i is taken."""
        counter: Iterator[int] = iter(indices)
        async with httpx.AsyncClient(base_url=self.base, timeout=120) as client:
            await asyncio.gather(
                *(self._client(client, counter, until, at or {}) for _ in range(self.clients))
            )

    async def _client(
        self,
        client: httpx.AsyncClient,
        counter: Iterator[int],
        until: float,
        at: dict[int, Callable[[], None]],
    ) -> None:
        for index in counter:
            if time.monotonic() > until:
                return
            if index in at:
                await asyncio.to_thread(at[index])
            if index % 250 == 0:
                self.samples.append((index, rss_mb(self.pid)))
                print(f"  request {index}: RSS {self.samples[-1][1]:.1f} MB", flush=True)
            request = self.kinds[index % len(self.kinds)](np.random.default_rng(index), self.inputs)
            await self.send(client, request)

    async def send(self, client: httpx.AsyncClient, request: Request) -> None:
        try:
            response = await client.post(request.path, **request.send)
        except httpx.HTTPError as exc:
            self.tally.record(request, 0, None, repr(exc))
            return
        version = response.headers.get("x-model-version")
        self.tally.record(request, response.status_code, version, response.text)
        if request.follow_job and response.status_code == 202:
            await self.follow(client, request, response.headers["location"])

    async def follow(self, client: httpx.AsyncClient, request: Request, job: str) -> None:
        """Poll a job to its end, then read its report: the whole life of a job."""
        deadline = time.monotonic() + JOB_DEADLINE
        status = "queued"
        while status in ("queued", "running") and time.monotonic() < deadline:
            await asyncio.sleep(0.5)
            status = (await client.get(job)).json()["status"]
        report = await client.get(f"{job}/report")
        done = Request(f"{request.kind}: {status}, report", f"{job}/report", {})
        self.tally.record(done, report.status_code if status == "done" else 0, None, status)

    def publish_version_2(self) -> None:
        publish(self.versioned_folder, 2)
        print(f"  version 2 of {VERSIONED} published after {self.tally.sent} requests", flush=True)

    async def until_version_2_answers(self) -> None:
        """Requests to shapes_v until version 2 answers one (bounded in time): the
        swap must be done before the end is read."""
        deadline = time.monotonic() + SWAP_DEADLINE
        request = json_images(VERSIONED, [self.inputs.shapes["png64"][0]], {"overlay": False})
        async with httpx.AsyncClient(base_url=self.base, timeout=120) as client:
            while "2" not in self.tally.versions and time.monotonic() < deadline:
                await self.send(client, request)
                await asyncio.sleep(0.2)
