"""Prometheus metrics, one registry per app (so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

# Request latencies span a tiny model's few ms to a large batch's seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "gradcam_requests", "HTTP requests", ["model", "route", "status"], registry=r
        )
        self.request_seconds = Histogram(
            "gradcam_request_seconds",
            "HTTP request latency",
            ["model", "route", "status"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.stage_seconds = Histogram(
            "gradcam_stage_seconds",
            "Time per stage: decode, queue_wait, compute, render",
            ["model", "stage"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "gradcam_batch_size",
            "Maps computed per compiled call",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        # By version too: during a swap the old and the new version queue side by side.
        self.queue_depth = Gauge(
            "gradcam_queue_depth",
            "Requests waiting for a batch",
            ["model", "version"],
            registry=r,
        )

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)


class ModelStateCollector(Collector):
    """Read from the registry when scraped: the serving versions' trace counts, devices
    and load times, and the state of every version (a failed load shows as END)."""

    def __init__(
        self,
        models: Callable[[], Iterable[tuple[str, str, int, float]]],
        versions: Callable[[], Iterable[tuple[str, str, str, bool]]] = list,
        card_errors: Callable[[], Iterable[str]] = list,
    ) -> None:
        self._models = models  # yields (model id, device, trace count, load seconds)
        self._versions = versions  # yields (model id, version, state, serving)
        self._card_errors = card_errors  # yields the ids whose card cannot be read now

    def collect(self) -> Iterator[Metric]:
        traces = GaugeMetricFamily(
            "gradcam_traces", "tf.function traces of the model's Grad-CAMs", labels=["model"]
        )
        device = GaugeMetricFamily(
            "gradcam_model_device", "Device the model runs on (value 1)", labels=["model", "device"]
        )
        load = GaugeMetricFamily(
            "gradcam_model_load_seconds",
            "Time to load and warm the serving version",
            labels=["model"],
        )
        for model_id, device_name, trace_count, load_seconds in self._models():
            traces.add_metric([model_id], trace_count)
            device.add_metric([model_id, device_name], 1)
            load.add_metric([model_id], load_seconds)
        yield traces
        yield device
        yield load
        yield from self._version_metrics()
        card = GaugeMetricFamily(
            "gradcam_model_card_error",
            "A card that cannot be read now (value 1): the loaded one serves on; "
            "the error is in GET /v1/models/{id}",
            labels=["model"],
        )
        for model_id in self._card_errors():
            card.add_metric([model_id], 1)
        yield card

    def _version_metrics(self) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "gradcam_model_version_state",
            "Versions known per model (value 1): LOADING, AVAILABLE or END (failed to load)",
            labels=["model", "version", "state"],
        )
        serving = GaugeMetricFamily(
            "gradcam_model_version_serving",
            "The version serving requests that name none (value 1)",
            labels=["model", "version"],
        )
        failed = GaugeMetricFamily(
            "gradcam_model_version_load_failed",
            "A version that failed to load (value 1); the error is in GET /v1/models/{id}",
            labels=["model", "version"],
        )
        for model_id, version, version_state, is_serving in self._versions():
            state.add_metric([model_id, version, version_state], 1)
            if is_serving:
                serving.add_metric([model_id, version], 1)
            if version_state == "END":
                failed.add_metric([model_id, version], 1)
        yield state
        yield serving
        yield failed


class ProcessTracesCollector(Collector):
    """tf.function traces of the whole process, read when scraped: unlike
    `gradcam_traces{model}` (the serving versions' compiled functions now) it never
    drops, so a rise after warm-up shows a retrace wherever it happened."""

    def __init__(self, traces: Callable[[], int]) -> None:
        self._traces = traces

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "gradcam_process_traces",
            "tf.function traces since the process started: every compiled step of every "
            "model and version (unloaded ones too)",
            value=self._traces(),
        )
