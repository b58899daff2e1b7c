"""A tiny fake TF Serving model on 127.0.0.1 whose answers a test switches: good,
malformed, wrong count, an error status, 503, slow; and it can be stopped.

What the real predictor (a second instance of this service) cannot be made to do.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

N_CLASSES = 4
SLOW_SECONDS = 3.0  # longer than the test cards' remote_timeout, bounded


@dataclass
class FakeState:
    mode: str = "good"  # good | not-json | wrong-count | nan | status-500 | status-503 | slow
    predicts: int = 0
    sizes: list[int] = field(default_factory=list)


def handler(state: FakeState) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # quiet
            pass

        def answer(self, status: int, body: bytes) -> None:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            # "slow": the client gave up waiting, as it should, and closed the connection.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)

        def do_GET(self) -> None:
            if self.path.endswith("/metadata"):
                self.answer(404, b'{"error": "no metadata"}')
            else:
                self.answer(200, b'{"model_version_status": [{"state": "AVAILABLE"}]}')

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            instances = json.loads(self.rfile.read(length))["instances"]
            state.predicts += 1
            state.sizes.append(len(instances))
            mode = state.mode
            if mode == "slow":
                time.sleep(SLOW_SECONDS)
            if mode.startswith("status-"):
                self.answer(int(mode[7:]), b'{"error": "the model is sad"}')
            elif mode == "not-json":
                self.answer(200, b"<html>oops</html>")
            else:
                rows = len(instances) - (mode == "wrong-count")
                value = "NaN" if mode == "nan" else "0.25"
                row = "[" + ", ".join([value] * N_CLASSES) + "]"
                self.answer(200, ('{"predictions": [' + ", ".join([row] * rows) + "]}").encode())

    return Handler


@contextmanager
def fake_remote() -> Iterator[tuple[str, FakeState, ThreadingHTTPServer]]:
    """(base URL, its state, the server: `shutdown()` + `server_close()` stop it)."""
    state = FakeState()
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler(state))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state, server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
