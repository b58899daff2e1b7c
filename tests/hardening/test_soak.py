"""A short soak (`bench.soak`) against a real server: a few hundred mixed requests over
every bundled model, bad requests between them and a version swap in the middle; no
trace after the warm-up but the new version's own, and memory within a generous bound
(a short run on a shared machine is noisy; `python -m bench.soak` runs the long one,
whose goal is +5 %). Every wait is bounded; the server is stopped at the end."""

import pytest

from bench.soak.__main__ import soak

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

SHORT_RUN_MEMORY_BOUND = 1.15


def test_a_short_soak_neither_retraces_nor_grows():
    report = soak(requests=300, seconds=1200, warmup=200, clients=4)
    assert not report.tally.unexpected, report.tally.unexpected[:5]
    assert report.tally.sent >= 500  # the time limit did not cut the run short
    assert set(report.tally.versions) == {"1", "2"}  # the swap happened mid-run
    assert report.retraces == 0
    assert report.version_2_traces >= 1  # its warm-up at least: the count is read
    assert report.memory_ratio <= SHORT_RUN_MEMORY_BOUND
