"""A bounded in-process job manager: queued -> running -> done | failed | cancelled.

Work is a plain function run on the thread pool (off the event loop); it reports
progress and learns of a cancel through its `Progress`, between its steps. At most
`max_running` jobs run at once and `max_queued` more wait; past that `submit` refuses with
429 and Retry-After. A finished job (its result, its report) is kept `keep_seconds`,
then forgotten (404). Every state change happens on the event loop, except the counters
the worker thread writes, which are plain ints read as they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.concurrency import run_in_threadpool

from app.errors import ExplainError, JobNotFound, JobsFull

log = logging.getLogger(__name__)
ACTIVE = ("queued", "running")
RETRY_AFTER_SECONDS = 10


class Cancelled(Exception):
    """Raised inside the work when its job was cancelled."""


class Progress:
    """What the work sees of its job: the total, a counter and the cancel flag."""

    def __init__(self, job: Job, on_advance: Callable[[int, int], None] | None = None) -> None:
        self._job = job
        self._on_advance = on_advance  # (done, total): a command line's progress bar

    def set_total(self, total: int) -> None:
        self._job.total = total

    def advance(self, count: int = 1) -> None:
        self._job.done = min(self._job.total, self._job.done + count)
        if self._on_advance is not None:
            self._on_advance(self._job.done, self._job.total)
        self.check()

    def check(self) -> None:
        if self._job.cancel_requested.is_set():
            raise Cancelled


@dataclass
class Job:
    id: str
    kind: str
    model: str
    version: str
    created: float
    status: str = "queued"
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    report: Any = None  # what the work returned for the report, rendered on demand
    error: str | None = None
    finished: float | None = None
    cancel_requested: threading.Event = field(default_factory=threading.Event)
    task: asyncio.Task[None] | None = None


Work = Callable[[Progress], tuple[dict[str, Any], Any]]  # -> (result, report data)
OnDone = Callable[[Job], None]


class JobManager:
    def __init__(
        self,
        max_running: int,
        max_queued: int,
        keep_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_running = max_running
        self.max_queued = max_queued
        self.keep_seconds = keep_seconds
        self.clock = clock
        self._jobs: dict[str, Job] = {}
        self._slots = asyncio.Semaphore(max_running)

    def submit(
        self,
        kind: str,
        work: Work,
        *,
        model: str,
        version: str,
        on_done: OnDone | None = None,
        hold: contextlib.ExitStack | None = None,
    ) -> Job:
        """Queue `work`; 429 when `max_running + max_queued` jobs are active already.

        `hold` (the model version's lease) is closed when the job ends, whatever its end.
        """
        self.check_capacity()
        job = Job(uuid.uuid4().hex, kind, model, version, created=self.clock())
        self._jobs[job.id] = job
        job.task = asyncio.create_task(self._run(job, work, on_done, hold), name=f"job-{job.id}")
        return job

    def check_capacity(self) -> None:
        """429 when `max_running + max_queued` jobs are queued or running."""
        self.expire()
        active = sum(job.status in ACTIVE for job in self._jobs.values())
        if active >= self.max_running + self.max_queued:
            raise JobsFull(
                f"{active} jobs are queued or running, this server's limit; try again later",
                headers={"retry-after": str(RETRY_AFTER_SECONDS)},
            )

    async def _run(
        self, job: Job, work: Work, on_done: OnDone | None, hold: contextlib.ExitStack | None
    ) -> None:
        try:
            await self._run_in_slot(job, work, on_done)
        finally:
            if hold is not None:
                hold.close()

    async def _run_in_slot(self, job: Job, work: Work, on_done: OnDone | None) -> None:
        async with self._slots:
            if job.cancel_requested.is_set():
                return self._finish(job, "cancelled")
            job.status = "running"
            try:
                job.result, job.report = await run_in_threadpool(work, Progress(job))
            except Cancelled:
                return self._finish(job, "cancelled")
            except ExplainError as exc:
                job.error = exc.detail
                return self._finish(job, "failed")
            except Exception as exc:  # a job's failure is its result, not the server's
                log.exception("job %s failed", job.id)
                job.error = f"{type(exc).__name__}: {exc}"
                return self._finish(job, "failed")
            job.done = job.total
            self._finish(job, "done")
            if on_done is not None:
                on_done(job)

    def _finish(self, job: Job, status: str) -> None:
        job.status = status
        job.finished = self.clock()

    def get(self, job_id: str) -> Job:
        self.expire()
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"job {job_id!r} is unknown, or finished and expired")
        return job

    def cancel(self, job_id: str) -> Job:
        """Ask the job to stop; a queued one never starts, a running one stops at its next
        step. A finished job is left as it is."""
        job = self.get(job_id)
        if job.status in ACTIVE:
            job.cancel_requested.set()
        return job

    def expire(self) -> None:
        now = self.clock()
        for job_id, job in list(self._jobs.items()):
            if job.finished is not None and now - job.finished > self.keep_seconds:
                del self._jobs[job_id]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._jobs.values()))

    async def close(self, timeout: float = 30.0) -> None:
        """Cancel every active job and wait (up to `timeout`) for their threads to stop."""
        tasks = [job.task for job in self._jobs.values() if job.task and not job.task.done()]
        for job in self._jobs.values():
            if job.status in ACTIVE:
                job.cancel_requested.set()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
