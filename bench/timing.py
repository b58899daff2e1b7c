"""The one timing rule every benchmark here uses: warm up, then the median of repeats."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def median_ms(run: Callable[[], object], repeats: int, warmup: int = 3) -> float:
    """Median wall time of `run()` in milliseconds, after `warmup` untimed calls."""
    for _ in range(warmup):
        run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000
