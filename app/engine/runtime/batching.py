"""Dynamic batching: concurrent requests for one compiled Grad-CAM run as one call.

A request is admitted per model before its image or text is decoded: at most `max_queue`
requests are in progress (decoding, waiting or computing), fewer while the model is
overloaded (`app.engine.runtime.admission`); one more is refused at once (503 + Retry-After),
so overload costs a refusal, not a decode. Each of the model's `workers` takes the
oldest waiting request plus every waiting request with the same (layer, method, relu,
counterfactual, score, max_channels, metrics), up to `max_batch` maps, and runs them in
one call of the compiled function on a thread of the model's own. While batches
compute, new requests gather for the next one; `max_wait` optionally holds a small batch
a little longer. A request past its deadline gets 504 and leaves the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from app.engine.evaluation.faithfulness import DEFAULT_STEPS, Scaling, check_metrics
from app.engine.methods import DEFAULT_MAX_CHANNELS
from app.engine.methods.blackbox import BlackBoxOptions
from app.engine.methods.pixel.options import PixelOptions
from app.engine.runtime.admission import Admission, refusal
from app.engine.runtime.gradcam import GradCam
from app.engine.targets.expand import Targets, expand_rows
from app.engine.targets.results import CamBatch
from app.errors import DeadlineExceeded, InvalidInput
from app.metrics import Metrics


@dataclass(frozen=True)
class BatchOptions:
    relu: bool = True
    counterfactual: bool = False
    score: str = "logit"
    max_channels: int = DEFAULT_MAX_CHANNELS
    metrics: tuple[str, ...] = ()
    metric_steps: int = DEFAULT_STEPS
    pixel: PixelOptions = field(default_factory=PixelOptions)  # pixel-level methods' options
    blackbox: BlackBoxOptions = field(default_factory=BlackBoxOptions)


@dataclass(eq=False)
class Job:
    gradcam: GradCam
    options: BatchOptions
    # Out of the repr: printing a batch of images (or a future holding maps) costs ms.
    inputs: np.ndarray = field(repr=False)
    targets: Targets  # as GradCam.explain takes them: one list for all, or per sample
    future: asyncio.Future[CamBatch] = field(repr=False)
    pixels: np.ndarray | None = field(default=None, repr=False)  # unscaled, for metrics
    scaling: Scaling | None = field(default=None, repr=False)
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def rows(self) -> int:
        """Maps this job adds to a batch: samples x targets (a head's defaults count 1)."""
        return sum(len(targets or (None,)) for targets in self.per_sample())

    def per_sample(self) -> list[Any]:
        """One target list (or None: the defaults) per sample."""
        targets = self.targets
        if (
            targets is not None
            and len(targets)
            and all(t is None or isinstance(t, list | tuple) for t in targets)
        ):
            return list(targets)
        return [None if targets is None else list(targets)] * len(self.inputs)

    def joins(self, other: Job) -> bool:
        return self.gradcam is other.gradcam and self.options == other.options


class Batcher:
    """The queue and the batching worker of one model."""

    def __init__(
        self,
        model_id: str,
        *,
        version: str = "",
        max_batch: int,
        max_queue: int,
        max_wait: float = 0.0,
        workers: int = 1,
        overload_queue: int | None = None,
        overload_window: float = 1.0,
        metrics: Metrics | None = None,
    ) -> None:
        self.model_id = model_id
        self.version = version  # of the model: each loaded version has its own batcher
        self.max_batch = max_batch
        self.max_wait = max_wait
        self.workers = workers
        self.metrics = metrics
        self.admission = Admission(
            model_id,
            max_queue,
            overload_queue=overload_queue,
            overload_window=overload_window,
            on_overload=self._shed,
        )
        self._queue: deque[Job] = deque()
        self._arrived = asyncio.Event()
        self._threads = ThreadPoolExecutor(workers, thread_name_prefix=f"gradcam-{model_id}")
        self._worker_tasks: list[asyncio.Task[None]] = []  # started with the first request

    @property
    def depth(self) -> int:
        return len(self._queue)

    def admit(self) -> contextlib.AbstractContextManager[None]:
        """Hold one of the model's places for a whole request, or refuse now (503)."""
        return self.admission.place()

    def _shed(self, bound: int) -> None:
        """Overload begins: waiting requests get 503 now, rather than an answer after
        everyone ahead of them, until at most `bound` are in progress (the oldest
        waiting ones keep their places)."""
        running = self.admission.admitted - len(self._queue)  # decoding, computing, rendering
        keep = max(0, bound - running)
        for job in list(self._queue)[keep:]:
            self._queue.remove(job)
            if not job.future.done():
                job.future.set_exception(refusal(f"model {self.model_id} is overloaded"))
        self._report_depth()

    async def explain(
        self,
        gradcam: GradCam,
        inputs: np.ndarray,
        targets: Targets,
        options: BatchOptions,
        *,
        timeout: float,
        pixels: np.ndarray | None = None,
        scaling: Scaling | None = None,
    ) -> CamBatch:
        """Queue one request's samples and wait for its maps (or 503 / 504)."""
        # Checked now, so a bad request never fails the batch it would have joined.
        expand_rows(len(inputs), targets, gradcam.head, gradcam.name)
        gradcam.check_score(options.score)
        gradcam.check_options(options.counterfactual, options.max_channels)
        check_metrics(options.metrics, options.metric_steps)
        options.pixel.check()
        job = Job(
            gradcam,
            options,
            inputs,
            targets,
            asyncio.get_running_loop().create_future(),
            pixels=pixels,
            scaling=scaling,
        )
        self._enqueue(job)
        try:
            return await asyncio.wait_for(asyncio.shield(job.future), timeout)
        except TimeoutError as exc:
            raise DeadlineExceeded(
                f"model {self.model_id} did not answer within {timeout:g} s"
            ) from exc
        finally:
            self._discard(job)  # timed out or cancelled: free the queue slot

    def _enqueue(self, job: Job) -> None:
        if self.admission.overloaded and self.admission.admitted > self.admission.overload_queue:
            # Admitted before the overload began, decoded since: it would wait too long.
            raise refusal(f"model {self.model_id} is overloaded")
        self._queue.append(job)
        self._report_depth()
        self._arrived.set()
        self._worker_tasks = [task for task in self._worker_tasks if not task.done()]
        while len(self._worker_tasks) < self.workers:
            name = f"batcher-{self.model_id}-{len(self._worker_tasks)}"
            self._worker_tasks.append(asyncio.create_task(self._work(), name=name))

    def _discard(self, job: Job) -> None:
        # Checked first: deque.remove of a missing job would format repr(job) into its error.
        if job in self._queue:
            self._queue.remove(job)
            self._report_depth()

    async def _work(self) -> None:
        while True:
            if not self._queue:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            await self._gather_more()
            if self._queue:  # another worker may have taken them while this one waited
                await self._run(self._take_batch())

    async def _gather_more(self) -> None:
        """Hold a small batch up to `max_wait` seconds for more requests to join it."""
        deadline = time.perf_counter() + self.max_wait
        while self._queue and self._queued_rows() < self.max_batch:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                return
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)

    def _queued_rows(self) -> int:
        head = self._queue[0]
        return sum(job.rows for job in self._queue if job.joins(head))

    def _take_batch(self) -> list[Job]:
        """The oldest job and the queued jobs that can share its call, up to max_batch."""
        head = self._queue[0]
        batch: list[Job] = []
        rows = 0
        for job in list(self._queue):
            if job.joins(head) and (not batch or rows + job.rows <= self.max_batch):
                batch.append(job)
                rows += job.rows
                self._queue.remove(job)
        self._report_depth()
        return batch

    async def _run(self, batch: list[Job]) -> None:
        live = [job for job in batch if not job.future.done()]
        if not live:
            return
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            cams = await loop.run_in_executor(self._threads, compute_batch, live)
        except Exception as exc:  # an engine failure fails every request of the batch
            for job in live:
                if not job.future.done():
                    job.future.set_exception(exc)
            return
        self._report_batch(live, started, time.perf_counter() - started)
        offset = 0
        for job in live:
            if not job.future.done():
                job.future.set_result(cams.samples(offset, offset + len(job.inputs)))
            offset += len(job.inputs)

    def _report_depth(self) -> None:
        if self.metrics is not None:
            self.metrics.queue_depth.labels(self.model_id, self.version).set(len(self._queue))

    def _report_batch(self, jobs: list[Job], started: float, compute: float) -> None:
        if self.metrics is None:
            return
        self.metrics.batch_size.labels(self.model_id).observe(sum(job.rows for job in jobs))
        self.metrics.stage_seconds.labels(self.model_id, "compute").observe(compute)
        for job in jobs:
            wait = started - job.enqueued
            self.metrics.stage_seconds.labels(self.model_id, "queue_wait").observe(wait)

    def stop(self) -> None:
        """Stop a drained batcher without waiting: its version was withdrawn and no
        request holds it any more. Its depth series goes too: a service that swaps
        versions for weeks must not keep one per version it ever served."""
        for task in self._worker_tasks:
            task.cancel()
        self._threads.shutdown(wait=False, cancel_futures=True)
        if self.metrics is not None:
            self.metrics.queue_depth.remove(self.model_id, self.version)

    async def close(self) -> None:
        for task in self._worker_tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._threads.shutdown(wait=False, cancel_futures=True)


def compute_batch(jobs: list[Job]) -> CamBatch:
    """One compiled call for every sample of `jobs` (same method and options), then
    their faithfulness scores when asked for (on this thread too: the model's)."""
    head = jobs[0]
    inputs = np.concatenate([job.inputs for job in jobs])
    targets = [targets for job in jobs for targets in job.per_sample()]
    options = head.options
    pixels = (
        None
        if head.scaling is None or any(job.pixels is None for job in jobs)
        else (np.concatenate([job.pixels for job in jobs if job.pixels is not None]))
    )
    cams = head.gradcam.explain(
        inputs,
        targets,
        relu=options.relu,
        counterfactual=options.counterfactual,
        score=options.score,
        max_channels=options.max_channels,
        pixel=options.pixel,
        baselines=head.gradcam.baselines(options.pixel, pixels, head.scaling),
        pixels=pixels,
        scaling=head.scaling,
        blackbox=options.blackbox,
    )
    if not options.metrics:
        return cams
    if pixels is None or head.scaling is None:
        raise InvalidInput("faithfulness metrics are computed for image models only")
    return head.gradcam.add_metrics(
        cams, pixels, head.scaling, options.metrics, options.metric_steps
    )
