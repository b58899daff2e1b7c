"""Admission per model: how many requests may be in progress before the next gets 503.

Normally `max_queue`: steady clients up to that many in flight never see a refusal.
When a request finds all of them taken, the model is overloaded: arrivals outpace
answers, and a full queue would only make every accepted request wait
`max_queue / throughput`. While overloaded the bound is `overload_queue` instead
(waiting requests past it are refused too, by the batcher), so accepted requests wait
for a few others only and the rest are refused at once. The overload ends
`overload_window` seconds after the last refusal. Clients are asked to wait
(`Retry-After: 1`); ones that retry at once keep the model overloaded, as a burst does.
(Adaptive load shedding; measured in bench/http_load.py.)
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

from app.errors import Overloaded


class Admission:
    """Places of one model; only touched on the event loop."""

    def __init__(
        self,
        model_id: str,
        max_queue: int,
        *,
        overload_queue: int | None = None,
        overload_window: float = 1.0,
        on_overload: Callable[[int], None] | None = None,
    ) -> None:
        self.model_id = model_id
        self.max_queue = max_queue
        self.overload_queue = min(max_queue, overload_queue or max_queue)
        self.overload_window = overload_window
        self.on_overload = on_overload  # told the tighter bound when overload begins
        self.admitted = 0
        self._last_refusal = -float("inf")

    @property
    def overloaded(self) -> bool:
        return time.monotonic() - self._last_refusal < self.overload_window

    @property
    def limit(self) -> int:
        return self.overload_queue if self.overloaded else self.max_queue

    @contextlib.contextmanager
    def place(self) -> Iterator[None]:
        """Hold a place for a whole request, or raise Overloaded (503) now."""
        if self.admitted >= self.limit:
            self._refuse()
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    def _refuse(self) -> None:
        beginning = not self.overloaded
        self._last_refusal = time.monotonic()
        if beginning and self.on_overload is not None:
            self.on_overload(self.overload_queue)
        raise refusal(f"model {self.model_id} has {self.admitted} requests in progress")


def refusal(reason: str) -> Overloaded:
    """A 503 asking the client to come back in a second."""
    return Overloaded(f"{reason}; retry shortly", headers={"Retry-After": "1"})
