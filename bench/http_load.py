"""HTTP load benchmark: the real server (uvicorn, one worker) on loopback.

    python -m bench.http_load [--max-queue 16] [--max-wait-ms 0] [--set NAME=VALUE] [--quick]
    python -m bench.http_load --frontend [--model efficientnet_lite0] [--quick]

In one run: bare compiled forward passes of efficientnet_lite0 (the bundled ImageNet
classifier) for reference (TensorFlow's default threads, and 1 thread per op as the
server runs on a small CPU); then 640x480 JPEG explain requests (a real photo) for
efficientnet_lite0 with the default overlay (auto: a JPEG for this JPEG): 1 sequential client, 16 concurrent clients, a
burst at 3x the measured capacity, and a soak of 2,000 mixed requests over every
bundled model (RSS growth and trace count). When the queue bound
is larger than what 3x the unloaded p99 allows at that capacity, a second server with
that smaller bound takes the same burst and the 16 clients again. Prints every figure.

`--frontend` runs only the frontend phase: one httpx client (as users call the API),
one 640x480 JPEG as a multipart upload, sequential requests for each response kind a
frontend picks (default JSON: the composite, a JPEG since overlay_format=auto; the same
with overlay_format=png; overlay=layer; overlay=false; Accept: image/png), interleaved
so each sees the same machine; p50, body size, and the goals as ratios to overlay=false
(the same request without any drawing): overlay=layer <= 1.15x, default JSON <= 1.35x,
default JSON body <= 100 KB. A bare compiled forward pass of the same model, measured in
a child process between the requests (side by side, under the same load), gives the
scale. Then the floor under every kind (the child's preprocessing of the JPEG, compiled
Grad-CAM, an HTTP round trip of the upload refused before any model work), and where
the drawing's time goes, step by step, in the same child.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from PIL import Image

from bench.engine_threads import run_child
from bench.raw_client import RawClient, timed_post

ROOT = Path(__file__).resolve().parents[1]
EXPLAIN = "/v1/models/{}:explain"
MODEL = "efficientnet_lite0"  # the bundled ImageNet classifier: a realistic model
PHOTO = ROOT / "docs" / "examples" / "motorcycle.jpg"
# Between a burst and the next phase: the overload it caused ends first
# (GRADCAM_OVERLOAD_WINDOW, 1 s by default), so each phase measures its own scenario.
PAUSE = 3.0


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    sent: list[float] = field(default_factory=list)  # perf_counter when each was sent
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
    """A 640x480 JPEG of a real photo (the motorcycle example, resized)."""
    with Image.open(PHOTO) as photo:
        image = photo.convert("RGB").resize((640, 480), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def start_server(port: int, settings: dict[str, str]) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        GRADCAM_PORT=str(port),
        GRADCAM_HOST="127.0.0.1",
        GRADCAM_LOG_LEVEL="warning",
        TF_CPP_MIN_LOG_LEVEL="3",
        **settings,
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


def forward_references() -> dict[str, float]:
    """Bare compiled forward of efficientnet_lite0, batch 1, with TensorFlow's default threads
    and with 1 thread per op (the server's CPU default), each in a fresh process."""
    default = run_child(0, repeats=30, model_id=MODEL)["forward b1"]
    single = run_child(1, repeats=30, model_id=MODEL)["forward b1"]
    return {"TensorFlow's default threads": default, "1 thread per op": single}


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
    client = raw_client(base)

    async def worker() -> None:
        for i in counter:
            await send_image(client, jpeg, i % 1000, run)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    run.seconds = time.perf_counter() - start
    await client.close()
    return run


async def open_loop(base: str, jpeg: bytes, rate: float, seconds: float) -> Run:
    """Requests sent at a fixed rate whatever the answers: what a burst of users does."""
    run = Run()
    client = raw_client(base)
    tasks = []
    start = time.perf_counter()
    for i in range(int(rate * seconds)):
        await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
        tasks.append(asyncio.create_task(send_image(client, jpeg, i % 1000, run)))
    await asyncio.gather(*tasks)
    run.seconds = time.perf_counter() - start
    await client.close()
    return run


def raw_client(base: str) -> RawClient:
    host, port = base.removeprefix("http://").split(":")
    return RawClient(host, int(port))


async def send_image(client: RawClient, jpeg: bytes, target: int, run: Run) -> None:
    path = EXPLAIN.format(MODEL) + f"?targets={target}"
    sent = time.perf_counter()
    latency, status = await timed_post(client, path, jpeg, "image/jpeg")
    run.latencies.append(latency)
    run.statuses.append(status)
    run.sent.append(sent)


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
    return MODEL, image_request(jpeg, int(rng.integers(0, 1000)))


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


@dataclass
class Unloaded:
    p99: float
    throughput: float


# The model the frontend phase measures (--model).
FRONTEND_MODEL = MODEL
FRONTEND_KINDS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    # kind: (form fields, headers)
    "default JSON (composite overlay)": ({}, {}),
    "overlay_format=png (JSON)": ({"overlay_format": "png"}, {}),
    "overlay=layer (JSON)": ({"overlay": "layer"}, {}),
    "overlay=false (JSON)": ({"overlay": "false"}, {}),
    "Accept: image/png (composite)": ({}, {"accept": "image/png"}),
    "Accept: image/png, overlay=layer": ({"overlay": "layer"}, {"accept": "image/png"}),
}


def forward_child(model: str, threads: int) -> None:
    """Time, on request, what a request costs in-process: each stdin line N answers a JSON
    object of N times in ms for a bare compiled forward (batch 1) of `model`, the
    preprocessing of the test JPEG (decode, resize, scaling), a compiled Grad-CAM of it
    at the default layer, and drawing its map as the server does (the composite as a
    JPEG data URL, the default, and as a PNG; the layer as a PNG), with the composite's
    steps apart. Run in a child process."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    from app.engine.runtime.devices import configure_devices
    from app.explain.images import prepare_images
    from app.explain.options import ExplainOptions
    from app.explain.overlays import overlay_drawer
    from app.preprocess.image import ImageLimits, cap_longest_side
    from app.registry.registry import load_registry
    from app.render.encode import data_url, encode_image
    from app.render.overlay import heatmap_layer, paste_overlay
    from app.settings import Settings

    configure_devices(threads or None)
    served = next(s for s in load_registry(Settings().models_dir) if s.id == model)
    forward = tf.function(lambda t: served.model(t, training=False))
    shape = [1, *served.model.inputs[0].shape[1:]]
    x = np.random.default_rng(0).uniform(-1, 1, shape).astype("float32")
    jpeg, limits = test_image(), ImageLimits()
    gradcam = served.gradcam(None, "gradcam")
    prepared = prepare_images(served, [jpeg], limits)
    heatmap = gradcam.explain(prepared.inputs).heatmaps[0]
    drawers = {
        (kind, fmt): overlay_drawer(prepared.images[0], ExplainOptions(overlay=overlay), fmt)
        for kind, overlay, fmt in (
            ("composite", True, "jpeg"),
            ("composite", True, "png"),
            ("layer", "layer", "png"),
        )
    }

    def draw(kind: str, fmt: str) -> str:
        drawer = drawers[(kind, fmt)]
        assert drawer is not None  # both kinds draw
        return data_url(encode_image(drawer(heatmap), fmt), fmt)

    # The composite's steps, as paste_overlay / blend_overlay and add_overlay take them.
    shown = cap_longest_side(prepared.images[0], ExplainOptions().overlay_max_side)
    full_layer = heatmap_layer(heatmap, shown.size)
    composite = Image.alpha_composite(shown.convert("RGBA"), full_layer)
    pasted = paste_overlay(shown, heatmap)
    jpeg_overlay = encode_image(pasted, "jpeg")

    def paste_step() -> None:
        shown.convert("RGB").paste(full_layer, (0, 0), full_layer)

    work = {
        "forward": lambda: forward(x).numpy(),
        "preprocess": lambda: prepare_images(served, [jpeg], limits),
        "gradcam": lambda: gradcam.explain(prepared.inputs),
        "composite": lambda: draw("composite", "jpeg"),
        "composite png": lambda: draw("composite", "png"),
        "layer": lambda: draw("layer", "png"),
        "step: colour + upscale to 640x480": lambda: heatmap_layer(heatmap, shown.size),
        "step: paste over the photo (JPEG)": paste_step,
        "step: alpha composite (PNG)": lambda: Image.alpha_composite(
            shown.convert("RGBA"), full_layer
        ),
        "step: JPEG encode": lambda: encode_image(pasted, "jpeg"),
        "step: PNG encode": lambda: encode_image(composite, "png"),
        "step: base64 data URL of the JPEG": lambda: data_url(jpeg_overlay, "jpeg"),
    }
    for _ in range(5):
        for run in work.values():
            run()  # trace and warm up
    print("ready", flush=True)
    for line in sys.stdin:
        times: dict[str, list[float]] = {name: [] for name in work}
        for _ in range(int(line)):
            for name, run in work.items():
                start = time.perf_counter()
                run()
                times[name].append((time.perf_counter() - start) * 1000)
        print(json.dumps(times), flush=True)


class ForwardProbe:
    """A child process holding the model, asked for a few forwards between requests, so
    the forward is measured side by side with the requests, under the same load."""

    def __init__(self, model: str, threads: int = 1) -> None:
        command = [sys.executable, "-m", "bench.http_load", "--forward-of", model]
        command += ["--threads", str(threads)]
        self.child = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        assert self.child.stdout is not None
        while self.child.stdout.readline().strip() != "ready":
            if self.child.poll() is not None:
                raise RuntimeError("the forward child exited")

    def measure(self, count: int) -> dict[str, list[float]]:
        """`count` rounds of a forward, a preprocessing and a Grad-CAM: ms of each."""
        assert self.child.stdin is not None and self.child.stdout is not None
        self.child.stdin.write(f"{count}\n")
        self.child.stdin.flush()
        return json.loads(self.child.stdout.readline())

    def close(self) -> None:
        self.child.kill()
        self.child.wait()


STAGES = ("decode", "queue_wait", "compute", "render")


@dataclass
class KindFigures:
    latencies: list[float] = field(default_factory=list)
    stage_seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))
    body_bytes: int = 0


def stage_sums(base: str, model: str) -> dict[str, float]:
    values = scrape(base)
    return {
        s: metric_sum(values, "gradcam_stage_seconds_sum", model=model, stage=s) for s in STAGES
    }


# A request the server parses in full (the multipart upload) and refuses before any model
# work (422: an unknown overlay value): HTTP, middleware and form parsing alone.
HTTP_ONLY = "HTTP only (upload parsed, then 422)"


def frontend_phase(
    base: str, jpeg: bytes, model: str, rounds: int, probe: ForwardProbe
) -> tuple[dict[str, list[float]], dict[str, KindFigures]]:
    """In-process references (forward, preprocessing, Grad-CAM; ms) and each response
    kind, interleaved round by round; /metrics is read between requests (outside the
    timed span) to split the server's time by stage per kind."""
    references: dict[str, list[float]] = {}
    kinds = {**FRONTEND_KINDS, HTTP_ONLY: ({"overlay": "bogus"}, {})}
    figures = {kind: KindFigures() for kind in kinds}
    with httpx.Client(base_url=base, timeout=60) as client:
        for i in range(rounds + 3):  # the first 3 rounds warm up
            if i >= 3:
                for name, times in probe.measure(3).items():
                    references.setdefault(name, []).extend(times)
            for kind, (fields, headers) in kinds.items():
                files = {"image": ("photo.jpg", jpeg, "image/jpeg")}
                before = stage_sums(base, model)
                start = time.perf_counter()
                response = client.post(
                    EXPLAIN.format(model), files=files, data=fields, headers=headers
                )
                if kind != HTTP_ONLY or response.status_code != 422:
                    response.raise_for_status()
                if "json" in response.headers["content-type"]:
                    response.json()  # a frontend parses what it gets
                elapsed = time.perf_counter() - start
                if i < 3:
                    continue
                kind_figures = figures[kind]
                kind_figures.latencies.append(elapsed)
                kind_figures.body_bytes = len(response.content)
                after = stage_sums(base, model)
                for stage in STAGES:
                    kind_figures.stage_seconds[stage] += after[stage] - before[stage]
    return references, figures


def frontend_main(model: str, quick: bool) -> None:
    jpeg = test_image()
    probe = ForwardProbe(model)
    try:
        with serving({"GRADCAM_MODELS_DIR": str(ROOT / "models")}) as (base, _):
            references, figures = frontend_phase(base, jpeg, model, 10 if quick else 40, probe)
    finally:
        probe.close()
    forward = float(np.median(references["forward"]))
    print(f"\n{model}, 640x480 JPEG multipart upload, 1 httpx client, sequential:")
    print(
        f"  bare compiled forward, batch 1, 1 thread per op (the server's), measured between"
        f" the requests: p50 {forward:.1f} ms of {len(references['forward'])}"
    )
    bare = percentile(figures["overlay=false (JSON)"].latencies, 50)
    for kind, kind_figures in figures.items():
        ms = percentile(kind_figures.latencies, 50)
        print(
            f"  {kind:34s} p50 {ms:6.1f} ms = {ms / forward:.2f} x forward"
            f" = {ms / bare:.2f} x overlay=false; body {kind_figures.body_bytes / 1024:6.1f} KB"
        )
        count = len(kind_figures.latencies)
        stages = ", ".join(
            f"{s} {v / count * 1000:.1f}" for s, v in kind_figures.stage_seconds.items()
        )
        print(f"      server ms per request: {stages}")
    print_goals(figures, bare)
    print_floor(forward, references, percentile(figures[HTTP_ONLY].latencies, 50), bare)


# The standing goals: p50 at most these times overlay=false's p50 (the same request
# without any drawing), and the default JSON body at most 100 KB.
RATIO_GOALS = {"overlay=layer (JSON)": 1.15, "default JSON (composite overlay)": 1.35}
BODY_GOAL_KB = 100.0


def print_goals(figures: dict[str, KindFigures], bare: float) -> None:
    default, png = figures["default JSON (composite overlay)"], figures["overlay_format=png (JSON)"]
    default_ms, png_ms = percentile(default.latencies, 50), percentile(png.latencies, 50)
    print("  default (auto: JPEG) against overlay_format=png, side by side:")
    print(
        f"    p50 {default_ms:.1f} ms against {png_ms:.1f} ms ({default_ms / png_ms:.2f}x);"
        f" body {default.body_bytes / 1024:.1f} KB against {png.body_bytes / 1024:.1f} KB"
        f" ({default.body_bytes / png.body_bytes:.2f}x)"
    )
    print("  goals:")
    for kind, goal in RATIO_GOALS.items():
        ratio = percentile(figures[kind].latencies, 50) / bare
        verdict = "met" if ratio <= goal else "NOT met"
        print(f"    {kind:34s} p50 / overlay=false p50 = {ratio:.2f} (goal <= {goal}): {verdict}")
    size_kb = default.body_bytes / 1024
    verdict = "met" if size_kb <= BODY_GOAL_KB else "NOT met"
    print(f"    default JSON body {size_kb:.1f} KB (goal <= {BODY_GOAL_KB:.0f} KB): {verdict}")


def print_floor(
    forward: float, references: dict[str, list[float]], http_ms: float, bare: float
) -> None:
    """What every explain request of this upload costs before any overlay is drawn, as
    parts of the forward measured side by side; then the drawing, step by step, against
    what each goal leaves for it above overlay=false."""
    preprocess = float(np.median(references["preprocess"]))
    gradcam = float(np.median(references["gradcam"]))
    floor = preprocess + gradcam + http_ms
    print("  the floor of a request before any overlay (medians, x forward):")
    for name, ms in (
        ("preprocessing in-process (JPEG decode, bicubic resize, scaling)", preprocess),
        ("compiled Grad-CAM in-process (batch 1, default layer)", gradcam),
        ("HTTP round trip of the upload, parsed, no model work", http_ms),
        ("sum", floor),
    ):
        print(f"    {name:64s} {ms:5.1f} ms = {ms / forward:.2f}")
    print("  drawing in-process (the server's code, data URL), against what each goal leaves:")
    for kind, name, goal in (
        (
            "composite",
            "composite at 640x480, JPEG (default)",
            RATIO_GOALS["default JSON (composite overlay)"],
        ),
        ("composite png", "composite at 640x480, PNG (ELI5-exact)", None),
        ("layer", "map-sized layer, PNG", RATIO_GOALS["overlay=layer (JSON)"]),
    ):
        ms = float(np.median(references[kind]))
        left = "" if goal is None else f"; goal {goal} leaves {(goal - 1) * bare:5.1f} ms"
        print(f"    {name:40s} {ms:5.1f} ms = {ms / forward:.2f} x forward{left}")
    print("  the default composite, step by step (medians):")
    for name in references:
        if name.startswith("step: "):
            ms = float(np.median(references[name]))
            print(f"    {name.removeprefix('step: '):40s} {ms:5.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-wait-ms", type=float, default=0.0)
    parser.add_argument("--max-queue", type=int, default=16, help="GRADCAM_MAX_QUEUE")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="another GRADCAM_ setting"
    )
    parser.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    parser.add_argument("--frontend", action="store_true", help="only the frontend phase")
    parser.add_argument("--model", default=FRONTEND_MODEL, help="the frontend phase's model")
    parser.add_argument("--forward-of", help=argparse.SUPPRESS)
    parser.add_argument("--threads", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.forward_of:
        forward_child(args.forward_of, args.threads)
        return
    if args.frontend:
        frontend_main(args.model, args.quick)
        return
    scale = 0.1 if args.quick else 1.0
    references = forward_references()
    print(f"bare compiled forward, {MODEL} 224x224 batch 1 (median):")
    for name, ms in references.items():
        print(f"  {name}: {ms:.1f} ms")
    jpeg = test_image()
    from training.shapes_data import make_shapes

    buffer = io.BytesIO()
    Image.fromarray(make_shapes(1, seed=5)[0][0]).save(buffer, "PNG")
    settings = dict(item.split("=", 1) for item in args.set)
    settings["GRADCAM_BATCH_MAX_WAIT_MS"] = str(args.max_wait_ms)
    with serving(settings | {"GRADCAM_MAX_QUEUE": str(args.max_queue)}) as (base, pid):
        unloaded = one_client(base, jpeg, references, scale)
        capacity = sixteen_clients(base, jpeg, unloaded, scale)
        burst(base, jpeg, capacity, unloaded, scale)
        time.sleep(PAUSE)
        soak_phase(base, jpeg, buffer.getvalue(), pid, scale)
    # Requests in progress that answer within 3x the unloaded p99 at full capacity
    # (Little's law): the queue bound a latency budget allows, as opposed to the number
    # of clients the service should absorb without a refusal.
    budget_queue = max(1, int(3 * unloaded.p99 / 1000 * capacity))
    if budget_queue < args.max_queue:
        print(
            f"\nsecond server, GRADCAM_MAX_QUEUE={budget_queue} "
            f"(= 3 x unloaded p99 x capacity = 3 x {unloaded.p99 / 1000:.3f} s x {capacity:.1f}/s):"
        )
        with serving(settings | {"GRADCAM_MAX_QUEUE": str(budget_queue)}) as (base, _):
            burst(base, jpeg, capacity, unloaded, scale)
            time.sleep(PAUSE)
            again = asyncio.run(closed_loop(base, jpeg, 16, max(40, int(200 * scale))))
            print(
                f"  the same 16 closed-loop clients now: {len(again.ok())} answered, "
                f"{again.count(503)} refused (503)"
            )


@contextlib.contextmanager
def serving(settings: dict[str, str]) -> Iterator[tuple[str, int]]:
    port = free_port()
    server = start_server(port, settings)
    print("\nserver: " + ", ".join(f"{k}={v}" for k, v in sorted(settings.items())))
    try:
        yield f"http://127.0.0.1:{port}", server.pid
    finally:
        server.terminate()
        server.wait(30)


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


def soak_phase(base: str, jpeg: bytes, shapes_png: bytes, pid: int, scale: float) -> None:
    total = max(200, int(2000 * scale))
    traces_before = metric_sum(scrape(base), "gradcam_traces")
    marks = asyncio.run(soak(base, jpeg, shapes_png, total, pid))
    traces_after = metric_sum(scrape(base), "gradcam_traces")
    print(
        f"\nsoak, {total} mixed requests (3 models, targets, options), 8 clients:"
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
