"""What one server sustains: 1 sequential client against a bare forward, 16 concurrent
clients, and a burst at 3x the measured capacity (refusals and accepted latency)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bench.engine_threads import run_child
from bench.http_load.traffic import MODEL, closed_loop, open_loop, percentile
from bench.server import metric_sum, scrape

# Between a burst and the next phase: the overload it caused ends first
# (GRADCAM_OVERLOAD_WINDOW, 1 s by default), so each phase measures its own scenario.
PAUSE = 3.0


def forward_references() -> dict[str, float]:
    """Bare compiled forward of efficientnet_lite0, batch 1, with TensorFlow's default threads
    and with 1 thread per op (the server's CPU default), each in a fresh process."""
    default = run_child(0, repeats=30, model_id=MODEL)["forward b1"]
    single = run_child(1, repeats=30, model_id=MODEL)["forward b1"]
    return {"TensorFlow's default threads": default, "1 thread per op": single}


@dataclass
class Unloaded:
    p99: float
    throughput: float


def one_client(base: str, jpeg: bytes, references: dict[str, float], scale: float) -> Unloaded:
    before = scrape(base)
    one = asyncio.run(closed_loop(base, jpeg, 1, max(10, int(50 * scale))))
    after = scrape(base)
    p50, p95, p99 = (percentile(one.ok(), q) for q in (50, 95, 99))
    print(
        f"\n1 client, {len(one.statuses)} sequential requests"
        " (640x480 JPEG, default overlay: a JPEG):"
    )
    print(
        f"  p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  errors {len(one.statuses) - len(one.ok())}"
    )
    for name, forward in references.items():
        print(f"  p50 / bare forward ({name}) = {p50 / forward:.2f}  (goal <= 1.5)")
    stage = {
        s: metric_sum(after, "gradcam_stage_seconds_sum", model=MODEL, stage=s)
        - metric_sum(before, "gradcam_stage_seconds_sum", model=MODEL, stage=s)
        for s in ("decode", "queue_wait", "compute", "render")
    }
    request_total = sum(one.latencies)
    print(
        "  server time per request by stage: "
        + ", ".join(f"{s} {v / len(one.statuses) * 1000:.1f} ms" for s, v in stage.items())
    )
    print(
        f"  render (overlay + JPEG) share of request time = {stage['render'] / request_total:.2f}"
        "  (goal <= 0.25)"
    )
    return Unloaded(p99, len(one.ok()) / one.seconds)


def sixteen_clients(base: str, jpeg: bytes, unloaded: Unloaded, scale: float) -> float:
    many = asyncio.run(closed_loop(base, jpeg, 16, max(40, int(400 * scale))))
    throughput_16 = len(many.ok()) / many.seconds  # answered requests: refusals are not capacity
    errors = len(many.statuses) - len(many.ok())
    print(
        f"\n16 clients, {len(many.statuses)} requests: throughput {throughput_16:.1f} req/s, "
        f"p50 {percentile(many.ok(), 50):.1f} ms, p99 {percentile(many.ok(), 99):.1f} ms, errors {errors}"
    )
    print(
        f"  throughput(16) / throughput(1) = {throughput_16 / unloaded.throughput:.2f}"
        "  (goal >= 1.5)"
    )
    batches = scrape(base)
    mean_batch = metric_sum(batches, "gradcam_batch_size_sum", model=MODEL) / max(
        1.0, metric_sum(batches, "gradcam_batch_size_count", model=MODEL)
    )
    print(f"  mean batch size so far: {mean_batch:.2f}")
    return throughput_16


def burst(base: str, jpeg: bytes, capacity: float, unloaded: Unloaded, scale: float) -> None:
    before_burst = scrape(base)
    run = asyncio.run(open_loop(base, jpeg, 3 * capacity, max(3.0, 10 * scale)))
    after_burst = scrape(base)
    refused = [t for t, s in zip(run.latencies, run.statuses, strict=True) if s == 503]
    print(
        f"\nburst at 3x capacity ({3 * capacity:.1f} req/s for {run.seconds:.1f} s, "
        f"{len(run.statuses)} requests): {len(run.ok())} accepted, {len(refused)} refused (503), "
        f"{len(run.statuses) - len(run.ok()) - len(refused)} other"
    )
    accepted_p99 = percentile(run.ok(), 99)
    print(
        f"  refused p99 {percentile(refused, 99):.1f} ms; accepted p99 {accepted_p99:.1f} ms"
        f" = {accepted_p99 / unloaded.p99:.2f} x unloaded p99  (goal <= 3)"
    )
    first = min(run.sent)
    later = [
        t
        for t, s, at in zip(run.latencies, run.statuses, run.sent, strict=True)
        if s == 200 and at - first >= 1.0
    ]
    print(
        f"  accepted after the first second: p50 {percentile(later, 50):.1f} ms, "
        f"p99 {percentile(later, 99):.1f} ms = {percentile(later, 99) / unloaded.p99:.2f} x"
        " unloaded p99"
    )
    served_503 = {
        part: metric_sum(after_burst, f"gradcam_request_seconds_{part}", model=MODEL, status="503")
        - metric_sum(before_burst, f"gradcam_request_seconds_{part}", model=MODEL, status="503")
        for part in ("sum", "count")
    }
    print(
        "  server-side time to refuse (mean, from /metrics): "
        f"{served_503['sum'] / max(1.0, served_503['count']) * 1000:.1f} ms"
        " (client-side figures include the load generator sharing the 2 cores)"
    )
