"""The job manager through a job's whole life: queued, running with progress, done,
failed, cancelled (queued and running), expired; the bound on active jobs (429).

Work functions block on events the test sets, and the test waits on conditions with a
deadline (never a fixed sleep); expiry runs on a clock the test moves."""

import asyncio
import threading

import pytest

from app.errors import InvalidInput, JobNotFound, JobsFull
from app.jobs.manager import JobManager, Progress

DEADLINE = 30.0


async def until(condition, what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not condition():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Gate:
    """Work of `steps` steps that waits for the test to open each one."""

    def __init__(self, steps: int = 3) -> None:
        self.steps = steps
        self.opened = threading.Semaphore(0)
        self.started = threading.Event()

    def __call__(self, progress: Progress):
        progress.set_total(self.steps)
        self.started.set()
        for _ in range(self.steps):
            if not self.opened.acquire(timeout=DEADLINE):
                raise TimeoutError("the test never opened the gate")
            progress.advance()
        return {"steps": self.steps}, "report"


def run(coroutine):
    return asyncio.run(coroutine)


def test_a_job_goes_queued_running_done_with_progress():
    async def scenario():
        clock = Clock()
        jobs = JobManager(1, 2, keep_seconds=60, clock=clock)
        first, second = Gate(), Gate(1)
        a = jobs.submit("test", first, model="m", version="1")
        b = jobs.submit("test", second, model="m", version="1")
        assert a.status == "queued"
        await until(lambda: a.status == "running" and a.total == 3, "the first job to run")
        assert b.status == "queued"  # one runs at a time
        first.opened.release()
        await until(lambda: a.done == 1, "progress")
        first.opened.release(2)
        second.opened.release()
        await until(lambda: b.status == "done", "both jobs to finish")
        assert a.status == "done" and a.result == {"steps": 3} and a.report == "report"
        assert (a.done, a.total) == (3, 3)
        clock.now += 61
        with pytest.raises(JobNotFound):
            jobs.get(a.id)

    run(scenario())


def test_cancel_a_running_and_a_queued_job():
    async def scenario():
        jobs = JobManager(1, 1, keep_seconds=60)
        running, waiting = Gate(), Gate()
        a = jobs.submit("test", running, model="m", version="1")
        b = jobs.submit("test", waiting, model="m", version="1")
        await until(lambda: a.status == "running", "the first job to run")
        jobs.cancel(b.id)
        jobs.cancel(a.id)
        running.opened.release()  # the work sees the cancel at its next step
        await until(lambda: a.status == "cancelled", "the running job to stop")
        await until(lambda: b.status == "cancelled", "the queued job to end")
        assert not waiting.started.is_set()  # it never started
        assert a.done == 1 and a.result is None

    run(scenario())


def test_failures_are_the_jobs_not_the_servers():
    def invalid(progress):
        raise InvalidInput("bad label")

    def broken(progress):
        raise RuntimeError("boom")

    async def scenario():
        jobs = JobManager(2, 0, keep_seconds=60)
        a = jobs.submit("test", invalid, model="m", version="1")
        b = jobs.submit("test", broken, model="m", version="1")
        await until(lambda: a.status == b.status == "failed", "both to fail")
        assert a.error == "bad label" and b.error == "RuntimeError: boom"

    run(scenario())


def test_full_means_429_with_retry_after_until_a_place_frees():
    async def scenario():
        jobs = JobManager(1, 1, keep_seconds=60)
        gates = [Gate(1), Gate(1)]
        for gate in gates:
            jobs.submit("test", gate, model="m", version="1")
        with pytest.raises(JobsFull) as refused:
            jobs.submit("test", Gate(1), model="m", version="1")
        assert refused.value.status == 429 and int(refused.value.headers["retry-after"]) > 0
        for gate in gates:
            gate.opened.release()
        await until(lambda: all(j.status == "done" for j in jobs), "the jobs to finish")
        jobs.submit("test", lambda p: ({}, None), model="m", version="1")

    run(scenario())


def test_unknown_job_is_404():
    with pytest.raises(JobNotFound) as missing:
        JobManager(1, 1, 60).get("nope")
    assert missing.value.status == 404


def test_close_cancels_active_jobs_and_closes_their_holds():
    async def scenario():
        import contextlib

        jobs = JobManager(1, 1, keep_seconds=60)
        closed = []
        hold = contextlib.ExitStack()
        hold.callback(lambda: closed.append(True))
        gate = Gate(2)
        a = jobs.submit("test", gate, model="m", version="1", hold=hold)
        b = jobs.submit("test", Gate(1), model="m", version="1")
        await until(lambda: a.status == "running", "the job to run")
        closing = asyncio.create_task(jobs.close(timeout=DEADLINE))
        await until(lambda: a.cancel_requested.is_set(), "the cancel")
        gate.opened.release()
        await closing
        assert (a.status, b.status) == ("cancelled", "cancelled") and closed == [True]

    run(scenario())
