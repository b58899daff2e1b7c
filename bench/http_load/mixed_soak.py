"""The load run's soak phase: mixed requests over three bundled models, RSS growth and
trace count (`python -m bench.soak` is the long one, over every model and a swap)."""

from __future__ import annotations

import asyncio

import httpx
import numpy as np

from bench.http_load.traffic import MODEL, Run, image_request, send
from bench.server import metric_sum, rss_mb, scrape


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
