"""`gradcam explain PATH...`: explain every image, `--jobs` at a time, with progress.

Ctrl-C stops taking new images, lets the ones in flight finish and keeps what is
done (a second Ctrl-C leaves the ones in flight unrecorded). Exit status: 0 all
explained, 1 some failed (each listed on stderr), 130 interrupted.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from app.cli.backends import Backend, ExplainFailure, LocalBackend, RemoteBackend
from app.cli.files import InputImage, find_images
from app.cli.outputs import failure_record, success_record, write_overlays, write_record
from app.cli.progress import progress_bar

INTERRUPTED = 130  # 128 + SIGINT, as shells report it


def explain_command(args: argparse.Namespace) -> int:
    try:
        images = find_images(args.paths)
    except FileNotFoundError as exc:
        print(f"gradcam explain: {exc}", file=sys.stderr)
        return 2
    if not images:
        print("gradcam explain: no images under the paths given", file=sys.stderr)
        return 2
    try:
        backend: Backend = LocalBackend(args) if args.local else RemoteBackend(args)
    except ExplainFailure as exc:
        print(f"gradcam explain: {exc}", file=sys.stderr)
        return 1
    json_path: Path = args.json or args.out / "explanations.jsonl"
    json_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with json_path.open("w", encoding="utf-8") as stream:
            run = Run(backend, args, stream)
            run.all(images)
    except KeyboardInterrupt:  # the second Ctrl-C: whatever was recorded stays
        print("gradcam explain: aborted", file=sys.stderr)
        return INTERRUPTED
    finally:
        backend.close()
    return run.exit_status(len(images))


class Run:
    """One pass over the images: workers explain and write overlays, this thread records."""

    def __init__(self, backend: Backend, args: argparse.Namespace, stream: TextIO) -> None:
        self.backend = backend
        self.args = args
        self.stream = stream
        self.failures: list[str] = []
        self.done = 0
        self.stop = threading.Event()
        self.seconds = 0.0  # from the first image sent to the last one recorded

    def all(self, images: list[InputImage]) -> None:
        queue = iter(images)
        in_flight: set[Future[dict[str, Any]]] = set()
        with (
            stop_on_sigint(self.stop),
            progress_bar(len(images)) as advance,
            ThreadPoolExecutor(self.args.jobs) as pool,
        ):
            started = time.perf_counter()
            while True:
                while not self.stop.is_set() and len(in_flight) < self.args.jobs:
                    image = next(queue, None)
                    if image is None:
                        break
                    in_flight.add(pool.submit(self.one, image))
                if not in_flight:
                    return
                finished, in_flight = wait(in_flight, timeout=0.2, return_when=FIRST_COMPLETED)
                for future in finished:
                    self.record(future.result())
                    advance()
                self.seconds = time.perf_counter() - started

    def one(self, image: InputImage) -> dict[str, Any]:
        try:
            result = self.backend.explain(image.path.read_bytes())
            overlays = write_overlays(result, image, self.args.out)
            return success_record(image, result, overlays, self.args.top_k)
        except ExplainFailure as exc:
            return failure_record(image, str(exc))
        except OSError as exc:
            return failure_record(image, f"cannot read or write: {exc}")

    def record(self, record: dict[str, Any]) -> None:
        write_record(self.stream, record)
        self.done += 1
        if "error" in record:
            print(f"failed: {record['path']}: {record['error']}", file=sys.stderr)
            self.failures.append(record["path"])

    def exit_status(self, total: int) -> int:
        rate = self.done / self.seconds if self.seconds else 0.0
        print(f"{self.done} images in {self.seconds:.2f} s ({rate:.2f} images/s)", file=sys.stderr)
        if self.failures:
            print(f"{len(self.failures)} of {self.done} images failed", file=sys.stderr)
        if self.stop.is_set() and self.done < total:
            print(f"interrupted: {self.done} of {total} images done", file=sys.stderr)
            return INTERRUPTED
        return 1 if self.failures else 0


@contextmanager
def stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets `stop`; the second one raises KeyboardInterrupt as usual."""

    def first_interrupt(signum: int, frame: object) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first_interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
