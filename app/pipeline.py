"""One explain request as the service runs it: stages off the event loop, batched engine.

Decoding and rendering run on the thread pool, in parallel with other requests'
batches; the engine call goes through the model's batcher.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from app.engine.compiled import TRACES
from app.engine.methods import DEFAULT_MAX_CHANNELS
from app.engine.runtime.batching import Batcher, BatchOptions
from app.engine.runtime.devices import configure_devices, cpu_count, is_gpu
from app.explain.images import PreparedImages, prepare_images, render_images
from app.explain.options import ExplainOptions, TextInput
from app.explain.results import ExplainResult
from app.explain.targets import check_answered, engine_targets, requested_output
from app.explain.texts import PreparedTexts, prepare_texts, render_texts
from app.memory import cap_malloc_arenas, keep_buffers_in_heap
from app.metrics import Metrics, ModelStateCollector, ProcessTracesCollector
from app.preprocess.image import ImageLimits
from app.preprocess.tensor import ImageTensor
from app.registry.registry import Registry
from app.registry.served import ServedModel
from app.settings import Settings

T = TypeVar("T")


@dataclass(frozen=True)
class ExplainInputs:
    images: list[bytes | ImageTensor]  # encoded images, or image tensors
    texts: list[TextInput]


async def explain_request(
    served: ServedModel,
    inputs: ExplainInputs,
    options: ExplainOptions,
    *,
    limits: ImageLimits,
    batcher: Batcher,
    timeout: float,
    metrics: Metrics | None = None,
) -> ExplainResult:
    def timed(stage: str, work: Callable[[], T]) -> Callable[[], T]:
        def run() -> T:
            started = time.perf_counter()
            try:
                return work()
            finally:
                if metrics is not None:
                    elapsed = time.perf_counter() - started
                    metrics.stage_seconds.labels(served.id, stage).observe(elapsed)

        return run

    prepared: PreparedImages | PreparedTexts
    if inputs.images:
        prepared = await run_in_threadpool(
            timed("decode", lambda: prepare_images(served, inputs.images, limits))
        )
    else:
        prepared = await run_in_threadpool(
            timed("decode", lambda: prepare_texts(served, inputs.texts, options))
        )
    # Resolving a layer the model has not compiled yet traces it: keep that off the loop.
    cam_options = options.cam_options()
    output = requested_output(options.targets)
    gradcam = served.compiled(options.layer, options.method, cam_options, output)
    if gradcam is None:
        gradcam = await run_in_threadpool(
            served.gradcam, options.layer, options.method, cam_options, output
        )
    batch_options = BatchOptions(
        options.relu,
        options.counterfactual,
        options.score or served.card.score,
        options.max_channels or DEFAULT_MAX_CHANNELS,
        tuple(options.metrics or ()),
        options.metric_steps,
        options.pixel,
        options.blackbox,
    )
    images = prepared if isinstance(prepared, PreparedImages) else None
    sizes = None if images is None else images.sizes
    targets = engine_targets(options.targets, gradcam.head, sizes)
    cams = await batcher.explain(
        gradcam,
        prepared.inputs,
        targets,
        batch_options,
        timeout=timeout,
        pixels=None if images is None else images.pixels,
        scaling=served.scaling,
    )
    check_answered(gradcam.head, cams, targets)
    layer = gradcam.layer_name
    if isinstance(prepared, PreparedImages):
        images = prepared
        return await run_in_threadpool(
            timed("render", lambda: render_images(served, layer, images, cams, options))
        )
    texts = prepared
    return await run_in_threadpool(
        timed("render", lambda: render_texts(served, layer, texts, cams, options))
    )


# On a CPU, compiled calls in flight per model. Several single-threaded calls beat one
# call whose ops are split across threads for these small models (2 vCPUs, MobileNetV2:
# 17.9 ms per single-image call with 1 thread per op vs 21.9 ms with 2; two calls in
# parallel 107 maps/s vs 59 for two calls of 2 threads each; bench/engine_threads.py).
CPU_WORKERS = 2


def configure_engine(settings: Settings) -> None:
    """Process-wide set-up before the first model loads: TensorFlow's threads per op,
    GPU memory growth, and malloc thresholds and arenas for per-request buffers."""
    keep_buffers_in_heap()
    cap_malloc_arenas(max(2, cpu_count()))
    threads = settings.intra_op_threads
    if threads is None and not is_gpu(settings.device):
        threads = max(1, cpu_count() // CPU_WORKERS)
    configure_devices(threads)


class BatcherPool:
    """One batcher (queue + workers) per loaded version, made on its first request:
    requests for two versions never share a batch, and a withdrawn version's batcher
    stops once its requests have ended (`unload`, the registry's `on_unload`)."""

    def __init__(self, registry: Registry, settings: Settings, metrics: Metrics) -> None:
        self.registry = registry
        self.settings = settings
        self.metrics = metrics
        self._batchers: dict[int, Batcher] = {}  # id(served) -> its batcher
        registry.on_unload = self.unload

    def for_version(self, served: ServedModel) -> Batcher:
        batcher = self._batchers.get(id(served))
        if batcher is None:
            batcher = self._batchers[id(served)] = new_batcher(served, self.settings, self.metrics)
        return batcher

    def __contains__(self, served: ServedModel) -> bool:
        return id(served) in self._batchers

    def __getitem__(self, model_id: str) -> Batcher:
        """The batcher of the version serving `model_id` now."""
        return self.for_version(self.registry.get(model_id))

    def unload(self, served: ServedModel) -> None:
        batcher = self._batchers.pop(id(served), None)
        if batcher is not None:
            batcher.stop()

    async def close(self) -> None:
        while self._batchers:
            await self._batchers.popitem()[1].close()


def new_batcher(served: ServedModel, settings: Settings, metrics: Metrics) -> Batcher:
    return Batcher(
        served.id,
        version=served.card.version,
        max_batch=settings.max_batch_size or default_batch_size(served.device),
        max_queue=settings.max_queue,
        overload_queue=settings.overload_queue,
        overload_window=settings.overload_window,
        max_wait=settings.batch_max_wait_ms / 1000,
        workers=settings.engine_workers or default_workers(served.device),
        metrics=metrics,
    )


def default_batch_size(device: str) -> int:
    """A GPU needs bigger batches to be busy; on a CPU larger ones only add latency."""
    return 32 if is_gpu(device) else 8


def default_workers(device: str) -> int:
    """A GPU runs one call at a time anyway; a CPU keeps `CPU_WORKERS` in flight."""
    return 1 if is_gpu(device) else CPU_WORKERS


def watch_models(metrics: Metrics, registry: Registry) -> None:
    """Scrape-time gauges read from the registry: they follow versions as they change."""

    def serving() -> list[tuple[str, str, int, float]]:
        return [(m.id, m.device, m.trace_count, m.load_seconds) for m in registry]

    def versions() -> list[tuple[str, str, str, bool]]:
        return [
            (entry.id, state.version, state.state, state.serving)
            for entry in list(registry.entries.values())
            for state in entry.states()
        ]

    def card_errors() -> list[str]:
        return [entry.id for entry in list(registry.entries.values()) if entry.card_error]

    metrics.watch(ModelStateCollector(serving, versions, card_errors))
    metrics.watch(ProcessTracesCollector(lambda: TRACES.count))
