"""`python -m bench.soak`: see the package's docstring."""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from bench.server import serving
from bench.soak import __doc__ as DOC
from bench.soak.extras import REMOTE, remote_card
from bench.soak.heads import check_scene_pool
from bench.soak.mix import load_inputs
from bench.soak.report import Report, print_report
from bench.soak.repository import BUNDLED, VERSIONED, add_remote, build_models
from bench.soak.run import Soak, read_mark

MODELS = [*BUNDLED, VERSIONED]
REMOTE_DEADLINE = 120.0  # seconds for the watcher to load the remote card


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DOC, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="after the warm-up")
    parser.add_argument("--seconds", type=float, default=3600.0, help="stop sending after")
    parser.add_argument("--warmup", type=int, default=300, help="requests before the first mark")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    return parser.parse_args()


def soak(requests: int, seconds: float, warmup: int, clients: int) -> Report:
    """One soak on a fresh server; the figures, printed as they come and returned."""
    with tempfile.TemporaryDirectory(prefix="soak-") as folder:
        models = build_models(Path(folder))
        settings = {
            "GRADCAM_MODELS_DIR": str(models),
            "GRADCAM_POLL_SECONDS": "1",
            "GRADCAM_DEVICE": "/CPU:0",
            # Memory is measured here, not latency: on a busy shared CPU a first trace
            # under load may take longer than the default 30 s.
            "GRADCAM_REQUEST_TIMEOUT": "300",
            # Finished audits are dropped after a minute: expiry is part of the run.
            "GRADCAM_JOBS_KEEP_SECONDS": "60",
        }
        with serving(settings) as (base, pid):
            add_remote(models, REMOTE, remote_card(base))
            wait_for_model(base, REMOTE)
            return drive(base, pid, models / VERSIONED, requests, seconds, warmup, clients)


def wait_for_model(base: str, model: str) -> None:
    deadline = time.monotonic() + REMOTE_DEADLINE
    while httpx.get(f"{base}/v2/models/{model}/ready", timeout=30).status_code != 200:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{model} was not ready after {REMOTE_DEADLINE:.0f} s")
        time.sleep(0.5)


def drive(
    base: str, pid: int, folder: Path, requests: int, seconds: float, warmup: int, clients: int
) -> Report:
    inputs = load_inputs()
    inputs.details = {m: httpx.get(f"{base}/v1/models/{m}", timeout=30).json() for m in MODELS}
    check_scene_pool(base, inputs)
    run = Soak(base, pid, folder, inputs, clients=clients)
    started = time.monotonic()
    until = started + seconds
    print(f"soak: {len(run.kinds)} request kinds, {clients} clients, warm-up {warmup}", flush=True)
    asyncio.run(run.phase(range(warmup), until))
    warm = read_mark(base, pid, run.tally.sent, MODELS)
    print(f"  warm after {warm.requests} requests: RSS {warm.rss_mb:.1f} MB", flush=True)
    swap_at = warmup + requests // 2
    indices = range(warmup, warmup + requests)
    asyncio.run(run.phase(indices, until, at={swap_at: run.publish_version_2}))
    asyncio.run(run.until_version_2_answers())
    end = read_mark(base, pid, run.tally.sent, MODELS)
    report = Report(warm, end, run.tally, run.samples, time.monotonic() - started)
    print_report(report)
    return report


def main() -> None:
    args = parse_args()
    report = soak(args.requests, args.seconds, args.warmup, args.clients)
    raise SystemExit(0 if report.goals_met else 1)


if __name__ == "__main__":
    main()
