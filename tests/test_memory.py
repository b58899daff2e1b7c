"""glibc keeps per-request-sized buffers in its heap once tuned (no mmap per buffer)."""

import subprocess
import sys

import pytest

from app.memory import keep_buffers_in_heap

WHERE_AN_8_MB_BUFFER_LIVES = """
import ctypes, sys
if sys.argv[1] == "tuned":
    from app.memory import keep_buffers_in_heap
    assert keep_buffers_in_heap()
buffer = bytearray(8 * 1024 * 1024)
address = ctypes.addressof((ctypes.c_char * len(buffer)).from_buffer(buffer))
for line in open("/proc/self/maps"):
    span, *rest = line.split()
    low, high = (int(part, 16) for part in span.split("-"))
    if low <= address < high:
        print(rest[-1] if len(rest) == 5 else "anonymous")
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc and /proc")
@pytest.mark.parametrize(("mode", "where"), [("default", "anonymous"), ("tuned", "[heap]")])
def test_large_buffers_come_from_the_heap_once_tuned(mode, where):
    result = subprocess.run(
        [sys.executable, "-c", WHERE_AN_8_MB_BUFFER_LIVES, mode],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == where


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_tuning_succeeds_and_again_is_harmless():
    assert keep_buffers_in_heap()
    assert keep_buffers_in_heap()
