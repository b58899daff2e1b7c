"""Latency of a steady load while versions swap: p99 during a swap vs without one.

    python -m bench.version_swap [--model shapes] [--clients 2] [--rounds 3] [--window 10]

The real server (`python -m app`, GRADCAM_POLL_SECONDS=0.5) serves `--model` from a
temporary repository in TF Serving's layout (`<id>/<version>/model.keras`, the card
beside the version folders). `--clients` threads send explain requests one after another
(a closed loop: a steady load at what the server sustains), JSON with a base64 image and
the PNG overlay. Each round has a quiet window of `--window` seconds, then a swap: the
next version is renamed into place and the serving one removed; the swap window lasts
from the rename until every client has had an answer from the new version, plus one
second. Requests are counted in the window they were sent in; quiet and swap windows
alternate, so both see the same machine. Prints p50 / p99 of each, their ratio and the
errors (any answer that is not 200 or not from the version expected then).
"""

from __future__ import annotations

import argparse
import base64
import re
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np

from bench.http_load import ROOT, free_port, start_server, test_image

DEADLINE = 300.0  # seconds for one swap: poll, stability poll, load and warm-up


@dataclass
class Answer:
    sent: float
    seconds: float
    status: int
    version: str | None
    client: int


@dataclass
class Load:
    url: str
    body: dict[str, object]
    answers: list[Answer] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def client(self, index: int, model: str) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            while not self.stop.is_set():
                sent = time.perf_counter()
                try:
                    response = http.post(f"/v1/models/{model}:explain", json=self.body)
                    status, version = response.status_code, response.json().get("model_version")
                except (httpx.HTTPError, ValueError):
                    status, version = 0, None
                self.answers.append(
                    Answer(sent, time.perf_counter() - sent, status, version, index)
                )


def make_repository(folder: Path, model: str) -> Path:
    """models/<model> in TF Serving's layout, version 1; the card loses its checksums
    (they name the flat file)."""
    source = ROOT / "models" / model
    target = folder / model
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("model.keras"))
    card = (source / "model.toml").read_text()
    card = re.sub(r"\[sha256\][^\[]*", "", card)
    (target / "model.toml").write_text(re.sub(r'^version = ".*"\n', "", card, flags=re.M))
    publish(target, 1, source / "model.keras")
    return target


def publish(folder: Path, version: int, model_file: Path) -> None:
    staging = folder / f".{version}.staging"
    staging.mkdir()
    shutil.copy(model_file, staging / "model.keras")
    staging.rename(folder / str(version))


def swap(
    load: Load, folder: Path, version: int, clients: int, model_file: Path
) -> tuple[float, float]:
    """Publish `version`, remove the one before; the window until every client saw it."""
    started = time.perf_counter()
    publish(folder, version, model_file)
    shutil.rmtree(folder / str(version - 1))
    deadline = started + DEADLINE
    while time.perf_counter() < deadline:
        seen = {a.client for a in list(load.answers) if a.version == str(version)}
        if len(seen) == clients:
            switched = time.perf_counter()
            time.sleep(1.0)
            return started, switched
        time.sleep(0.05)
    raise RuntimeError(f"version {version} did not serve within {DEADLINE:.0f} s")


def in_windows(answers: list[Answer], windows: list[tuple[float, float]]) -> list[Answer]:
    return [a for a in answers if any(start <= a.sent < end for start, end in windows)]


def summary(name: str, answers: list[Answer], errors: int) -> float:
    ms = np.array([a.seconds for a in answers if a.status == 200]) * 1000
    p50, p99 = np.percentile(ms, 50), np.percentile(ms, 99)
    print(
        f"{name:>6}: {len(answers):5d} requests, p50 {p50:7.1f} ms, p99 {p99:7.1f} ms, errors {errors}"
    )
    return float(p99)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="shapes")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        models = Path(temporary)
        folder = make_repository(models, args.model)
        port = free_port()
        settings = {"GRADCAM_MODELS_DIR": str(models), "GRADCAM_POLL_SECONDS": "0.5"}
        server = start_server(port, settings)
        try:
            run(f"http://127.0.0.1:{port}", folder, args)
        finally:
            server.terminate()
            server.wait(30)


def run(url: str, folder: Path, args: argparse.Namespace) -> None:
    image = base64.b64encode(test_image()).decode()
    load = Load(url, {"instances": [{"image": {"b64": image}}]})
    threads = [
        threading.Thread(target=load.client, args=(i, args.model), daemon=True)
        for i in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    model_file = ROOT / "models" / args.model / "model.keras"
    quiet: list[tuple[float, float]] = []
    swaps: list[tuple[float, float]] = []
    switch_seconds = []
    time.sleep(2.0)  # the clients' first requests (connections) stay out of the figures
    for round_index in range(args.rounds):
        start = time.perf_counter()
        time.sleep(args.window)
        quiet.append((start, time.perf_counter()))
        started, switched = swap(load, folder, round_index + 2, args.clients, model_file)
        swaps.append((started, time.perf_counter()))
        switch_seconds.append(switched - started)
    load.stop.set()
    for thread in threads:
        thread.join(60)
    answers = list(load.answers)
    errors = [a for a in answers if a.status != 200]
    print(f"\nmodel {args.model}, {args.clients} clients, {args.rounds} rounds, poll 0.5 s")
    print(
        "publish -> every client answered by the new version: "
        + ", ".join(f"{s:.1f} s" for s in switch_seconds)
    )
    quiet_answers, swap_answers = in_windows(answers, quiet), in_windows(answers, swaps)
    p99_quiet = summary("quiet", quiet_answers, sum(a in errors for a in quiet_answers))
    p99_swap = summary("swap", swap_answers, sum(a in errors for a in swap_answers))
    print(
        f"p99 during a swap / without: {p99_swap / p99_quiet:.2f}x (goal <= 2x); errors in all: {len(errors)}"
    )


if __name__ == "__main__":
    main()
