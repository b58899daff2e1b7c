"""Prometheus metrics, one registry per app (so several apps can live in one process)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
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
        self.queue_depth = Gauge(
            "gradcam_queue_depth", "Requests waiting for a batch", ["model"], registry=r
        )
        self.model_load_seconds = Gauge(
            "gradcam_model_load_seconds", "Time to load and warm a model", ["model"], registry=r
        )

    def watch(self, collector: Collector) -> None:
        self.registry.register(collector)


class ModelStateCollector(Collector):
    """Trace counts and devices, read from the served models when scraped."""

    def __init__(self, models: Callable[[], Iterable[tuple[str, str, int]]]) -> None:
        self._models = models  # yields (model id, device, trace count)

    def collect(self) -> Iterator[Metric]:
        traces = GaugeMetricFamily(
            "gradcam_traces", "tf.function traces of the model's Grad-CAMs", labels=["model"]
        )
        device = GaugeMetricFamily(
            "gradcam_model_device", "Device the model runs on (value 1)", labels=["model", "device"]
        )
        for model_id, device_name, trace_count in self._models():
            traces.add_metric([model_id], trace_count)
            device.add_metric([model_id, device_name], 1)
        yield traces
        yield device
