"""HTTP load benchmark: the real server (uvicorn, one worker) on loopback.

    python -m bench.http_load [--max-wait-ms 0] [--quick]

In one run: a bare compiled forward pass of mobilenet_v2 for reference; then 640x480
JPEG explain requests for mobilenet_v2 with PNG overlays: 1 sequential client, 16
concurrent clients, a burst at 3x the measured capacity, and a soak of 2,000 mixed
requests over every bundled model (RSS growth and trace count). Prints every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
EXPLAIN = "/v1/models/{}:explain"


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def ok(self) -> list[float]:
        return [t for t, s in zip(self.latencies, self.statuses, strict=True) if s == 200]

    def count(self, status: int) -> int:
        return self.statuses.count(status)


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) * 1000 if values else float("nan")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_image() -> bytes:
    """A 640x480 photo-like JPEG: a gradient with a few shapes."""
    x = np.linspace(0, 255, 640, dtype=np.float32)
    y = np.linspace(0, 255, 480, dtype=np.float32)[:, None]
    pixels = np.stack([x + 0 * y, y + 0 * x, (x + y) / 2], axis=-1).astype(np.uint8)
    image = Image.fromarray(pixels)
    draw = ImageDraw.Draw(image)
    draw.ellipse((100, 100, 260, 260), fill=(220, 40, 40))
    draw.polygon([(420, 80), (340, 300), (560, 300)], fill=(40, 40, 220))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def start_server(port: int, max_wait_ms: float, max_queue: int) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        GRADCAM_MAX_QUEUE=str(max_queue),
        GRADCAM_PORT=str(port),
        GRADCAM_HOST="127.0.0.1",
        GRADCAM_LOG_LEVEL="warning",
        GRADCAM_BATCH_MAX_WAIT_MS=str(max_wait_ms),
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    server = subprocess.Popen([sys.executable, "-m", "app"], cwd=ROOT, env=env)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.kill()
    raise RuntimeError("the server did not become ready in 180 s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def bare_forward_ms() -> float:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3))
    forward = tf.function(lambda t: model(t, training=False))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 224, 224, 3)).astype(np.float32)
    for _ in range(5):
        forward(x).numpy()
    times = []
    for _ in range(50):
        start = time.perf_counter()
        forward(x).numpy()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


async def send(client: httpx.AsyncClient, model: str, run: Run, **request: object) -> None:
    start = time.perf_counter()
    try:
        response = await client.post(EXPLAIN.format(model), **request)  # type: ignore[arg-type]
        status = response.status_code
    except httpx.HTTPError:  # counted as "other": the connection failed
        status = 0
    run.latencies.append(time.perf_counter() - start)
    run.statuses.append(status)


def image_request(jpeg: bytes, target: int) -> dict[str, object]:
    return {
        "content": jpeg,
        "headers": {"content-type": "image/jpeg"},
        "params": {"targets": str(target)},
    }


async def closed_loop(base: str, jpeg: bytes, clients: int, total: int) -> Run:
    run = Run()
    counter = iter(range(total))
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def worker() -> None:
            for i in counter:
                await send(client, "mobilenet_v2", run, **image_request(jpeg, i % 1000))

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        run.seconds = time.perf_counter() - start
    return run


async def open_loop(base: str, jpeg: bytes, rate: float, seconds: float) -> Run:
    """Requests sent at a fixed rate whatever the answers: what a burst of users does."""
    run = Run()
    limits = httpx.Limits(max_connections=1000, max_keepalive_connections=1000)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            tasks.append(
                asyncio.create_task(
                    send(client, "mobilenet_v2", run, **image_request(jpeg, i % 1000))
                )
            )
        await asyncio.gather(*tasks)
        run.seconds = time.perf_counter() - start
    return run


def mixed_request(i: int, jpeg: bytes, shapes_png: bytes) -> tuple[str, dict[str, object]]:
    rng = np.random.default_rng(i)
    options = {
        "relu": bool(rng.integers(2)),
        "counterfactual": bool(rng.integers(2)),
        "score": ["logit", "output"][int(rng.integers(2))],
    }
    kind = i % 3
    if kind == 0:
        targets = sorted({int(t) for t in rng.integers(0, 4, rng.integers(1, 4))})
        files = {"image": ("s.png", shapes_png, "image/png")}
        data = {k: str(v).lower() for k, v in options.items()} | {
            "targets": ",".join(map(str, targets)),
            "colormap": "jet",
        }
        return "shapes", {"files": files, "data": data}
    if kind == 1:
        words = ["sahom", "gerreas", "goal", "storm", "piano", "stock", "vasho"]
        text = " ".join(rng.choice(words, int(rng.integers(3, 30))))
        body = {
            "instances": [{"text": text}] * int(rng.integers(1, 4)),
            "parameters": options | {"padding": ["post", "pre"][int(rng.integers(2))]},
        }
        return "keywords", {"json": body}
    return "mobilenet_v2", image_request(jpeg, int(rng.integers(0, 1000)))


async def soak(base: str, jpeg: bytes, shapes_png: bytes, total: int, pid: int) -> dict[str, float]:
    run = Run()
    marks: dict[str, float] = {}
    counter = iter(range(total))
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def worker() -> None:
            for i in counter:
                if i == total // 2:
                    marks["half"] = rss_mb(pid)
                model, request = mixed_request(i, jpeg, shapes_png)
                await send(client, model, run, **request)

        marks["start"] = rss_mb(pid)
        await asyncio.gather(*(worker() for _ in range(8)))
    marks["end"] = rss_mb(pid)
    marks["errors"] = len([s for s in run.statuses if s != 200])
    return marks


def scrape(base: str) -> dict[str, float]:
    values: dict[str, float] = {}
    for line in httpx.get(base + "/metrics").text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def metric_sum(values: dict[str, float], prefix: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in values.items() if k.startswith(prefix) and all(w in k for w in wanted))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--max-queue", type=int, default=16, help="GRADCAM_MAX_QUEUE")
    parser.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    forward = bare_forward_ms()
    print(f"bare compiled forward, mobilenet_v2 224x224 batch 1: median {forward:.1f} ms")
    jpeg = test_image()
    from training.shapes_data import make_shapes

    buffer = io.BytesIO()
    Image.fromarray(make_shapes(1, seed=5)[0][0]).save(buffer, "PNG")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(port, args.max_wait_ms, args.max_queue)
    print(
        f"server: GRADCAM_MAX_QUEUE={args.max_queue}, GRADCAM_BATCH_MAX_WAIT_MS={args.max_wait_ms:g}"
    )
    try:
        report(base, server.pid, forward, jpeg, buffer.getvalue(), scale)
    finally:
        server.terminate()
        server.wait(30)


def report(
    base: str, pid: int, forward: float, jpeg: bytes, shapes_png: bytes, scale: float
) -> None:
    before = scrape(base)
    one = asyncio.run(closed_loop(base, jpeg, 1, max(10, int(50 * scale))))
    after = scrape(base)
    p50, p95, p99 = (percentile(one.ok(), q) for q in (50, 95, 99))
    print(f"\n1 client, {len(one.statuses)} sequential requests (640x480 JPEG, PNG overlay):")
    print(
        f"  p50 {p50:.1f} ms  p95 {p95:.1f} ms  p99 {p99:.1f} ms  errors {len(one.statuses) - len(one.ok())}"
    )
    print(f"  p50 / bare forward = {p50 / forward:.2f}  (goal <= 1.5)")
    stage = {
        s: metric_sum(after, "gradcam_stage_seconds_sum", model="mobilenet_v2", stage=s)
        - metric_sum(before, "gradcam_stage_seconds_sum", model="mobilenet_v2", stage=s)
        for s in ("decode", "queue_wait", "compute", "render")
    }
    request_total = sum(one.latencies)
    print(
        "  server time per request by stage: "
        + ", ".join(f"{s} {v / len(one.statuses) * 1000:.1f} ms" for s, v in stage.items())
    )
    print(
        f"  render (overlay + PNG) share of request time = {stage['render'] / request_total:.2f}"
        "  (goal <= 0.25)"
    )
    throughput_1 = len(one.ok()) / one.seconds

    many = asyncio.run(closed_loop(base, jpeg, 16, max(40, int(400 * scale))))
    throughput_16 = len(many.ok()) / many.seconds  # answered requests: refusals are not capacity
    errors = len(many.statuses) - len(many.ok())
    print(
        f"\n16 clients, {len(many.statuses)} requests: throughput {throughput_16:.1f} req/s, "
        f"p50 {percentile(many.ok(), 50):.1f} ms, p99 {percentile(many.ok(), 99):.1f} ms, errors {errors}"
    )
    print(f"  throughput(16) / throughput(1) = {throughput_16 / throughput_1:.2f}  (goal >= 1.5)")
    batches = scrape(base)
    mean_batch = metric_sum(batches, "gradcam_batch_size_sum", model="mobilenet_v2") / max(
        1.0, metric_sum(batches, "gradcam_batch_size_count", model="mobilenet_v2")
    )
    print(f"  mean batch size so far: {mean_batch:.2f}")

    before_burst = scrape(base)
    burst = asyncio.run(open_loop(base, jpeg, 3 * throughput_16, max(3.0, 10 * scale)))
    after_burst = scrape(base)
    refused = [t for t, s in zip(burst.latencies, burst.statuses, strict=True) if s == 503]
    print(
        f"\nburst at 3x capacity ({3 * throughput_16:.1f} req/s for {burst.seconds:.1f} s, "
        f"{len(burst.statuses)} requests): {len(burst.ok())} accepted, {len(refused)} refused (503), "
        f"{len(burst.statuses) - len(burst.ok()) - len(refused)} other"
    )
    print(
        f"  refused p99 {percentile(refused, 99):.1f} ms; accepted p99 {percentile(burst.ok(), 99):.1f} ms"
        f" = {percentile(burst.ok(), 99) / p99:.2f} x unloaded p99  (goal <= 3)"
    )
    served_503 = {
        part: metric_sum(
            after_burst, f"gradcam_request_seconds_{part}", model="mobilenet_v2", status="503"
        )
        - metric_sum(
            before_burst, f"gradcam_request_seconds_{part}", model="mobilenet_v2", status="503"
        )
        for part in ("sum", "count")
    }
    print(
        "  server-side time to refuse (mean, from /metrics): "
        f"{served_503['sum'] / max(1.0, served_503['count']) * 1000:.1f} ms"
        " (client-side figures include the load generator sharing the 2 cores)"
    )

    traces_before = metric_sum(scrape(base), "gradcam_traces")
    marks = asyncio.run(soak(base, jpeg, shapes_png, max(200, int(2000 * scale)), pid))
    traces_after = metric_sum(scrape(base), "gradcam_traces")
    print(
        f"\nsoak, {max(200, int(2000 * scale))} mixed requests (3 models, targets, options), 8 clients:"
        f" errors {marks['errors']:.0f}"
    )
    print(
        f"  RSS start {marks['start']:.0f} MB, half {marks['half']:.0f} MB, end {marks['end']:.0f} MB;"
        f" growth over second half {marks['end'] - marks['half']:.1f} MB  (goal < 50)"
    )
    print(
        f"  tf.function traces before {traces_before:.0f}, after {traces_after:.0f}  (goal: flat)"
    )


if __name__ == "__main__":
    main()
