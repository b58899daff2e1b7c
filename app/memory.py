"""glibc malloc tuned for a service that allocates ~1 MB buffers on every request.

By default glibc serves large allocations (decoded images, overlays, PNG data, JSON)
with fresh mmaps and unmaps them on free, and trims the heap top eagerly, so every
request page-faults its buffers in again. Keeping them in the heap instead measured,
for 640x480 explain requests on mobilenet_v2 with one client: p50 34.8 -> 28.1 ms,
render 8.9 -> 6.6 ms (2-core machine). The price: memory freed stays with the process
(its peak), which a long-running server reuses anyway.

Every thread that allocates gets an arena of its own, up to 8 per CPU: the thread pool,
the batchers' and TensorFlow's threads each kept their own fragments of those buffers,
and a long mixed load grew without end (`python -m bench.soak`, 3,000 requests after the
warm-up: +100 MB, +7.4 %, still rising). With as many arenas as CPUs (2 there) it
stays flat: +16 MB, +1.2 %, between 1,333 and 1,363 MB throughout: `cap_malloc_arenas`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable

logger = logging.getLogger(__name__)

# mallopt parameters (malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
# The largest mmap threshold glibc accepts on 64-bit (4 * 1024 * 1024 * sizeof(long)).
MMAP_THRESHOLD = 32 * 1024 * 1024
TRIM_THRESHOLD = 512 * 1024 * 1024


def _mallopt() -> Callable[[int, int], int] | None:
    """glibc's mallopt, or None where there is none (musl, macOS)."""
    libc_name = ctypes.util.find_library("c")
    if libc_name is None:
        return None
    try:
        mallopt = ctypes.CDLL(libc_name).mallopt
    except (OSError, AttributeError):
        return None
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return mallopt


def keep_buffers_in_heap() -> bool:
    """Raise glibc's mmap and trim thresholds; False where there is no glibc."""
    mallopt = _mallopt()
    if mallopt is None:
        return False
    ok = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    if not ok:
        logger.warning("mallopt refused the buffer thresholds; glibc defaults stay")
    return ok


def cap_malloc_arenas(arenas: int) -> bool:
    """At most `arenas` malloc arenas for the threads made from now on (call it before
    the first requests); False where there is no glibc, or when MALLOC_ARENA_MAX is
    set (the operator's choice stands)."""
    mallopt = _mallopt()
    if mallopt is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    ok = bool(mallopt(M_ARENA_MAX, max(1, arenas)))
    if not ok:
        logger.warning("mallopt refused the arena cap; glibc's default stays")
    return ok
