"""A stub HTTP server whose answers a test scripts (503s, slow answers) for what a real
one will not do on cue; the live server (`server_url`) is tests/conftest.py's."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Scripted:
    """Answers in order (status, headers, body); the last one repeats. Records arrivals."""

    answers: list[tuple[int, dict[str, str], bytes]]
    delay: float = 0.0
    arrivals: list[float] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)


@pytest.fixture
def stub() -> Iterator[tuple[str, Scripted]]:
    script = Scripted(answers=[])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.answer()

        def do_POST(self) -> None:
            script.bodies.append(self.rfile.read(int(self.headers.get("content-length", "0"))))
            self.answer()

        def do_DELETE(self) -> None:
            self.answer()

        def answer(self) -> None:
            script.arrivals.append(time.monotonic())
            script.paths.append(self.path)
            script.methods.append(self.command)
            script.headers.append({k.lower(): v for k, v in self.headers.items()})
            index = min(len(script.arrivals), len(script.answers)) - 1
            status, headers, body = script.answers[index]
            time.sleep(script.delay)
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(body)))
            with contextlib.suppress(ConnectionError):  # a client that timed out has left
                self.end_headers()
                self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
