"""glibc keeps per-request-sized buffers in its heap once tuned (no mmap per buffer)."""

import os
import subprocess
import sys

import pytest

from app.memory import cap_malloc_arenas, keep_buffers_in_heap

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


ARENAS_AFTER_EIGHT_THREADS = """
import ctypes, ctypes.util, re, sys, tempfile, threading
if sys.argv[1] == "capped":
    from app.memory import cap_malloc_arenas
    assert cap_malloc_arenas(2)
start = threading.Barrier(8)

def allocate():
    start.wait()  # all eight allocate at once: each new thread asks for an arena
    for _ in range(200):
        bytearray(100_000)

threads = [threading.Thread(target=allocate) for _ in range(8)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.fopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
with tempfile.NamedTemporaryFile("r") as report:
    stream = libc.fopen(report.name.encode(), b"w")
    libc.malloc_info(0, stream)
    libc.fclose(stream)
    print(len(re.findall(r"<heap nr=", report.read())))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc")
def test_arenas_capped_however_many_threads_allocate():
    def arenas(mode: str) -> int:
        env = {k: v for k, v in os.environ.items() if k != "MALLOC_ARENA_MAX"}
        run = subprocess.run(
            [sys.executable, "-c", ARENAS_AFTER_EIGHT_THREADS, mode],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        return int(run.stdout)

    assert arenas("default") > 2  # glibc's own limit is 8 per CPU
    assert arenas("capped") <= 2


def test_an_operators_arena_setting_stands(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert not cap_malloc_arenas(2)
