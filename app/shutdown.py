"""Graceful shutdown: on SIGTERM the service drains before uvicorn stops it.

Draining: readiness answers 503 at once so the load balancer stops sending; new
requests get a fast 503 with `Connection: close` (the listener stays open, so callers
get an answer rather than a reset); requests already in flight run to completion, for
up to `shutdown_grace` seconds. Then uvicorn's own shutdown closes the listener, cancels
what is left and runs the lifespan's end. A second SIGTERM or Ctrl+C skips the wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.refusals import refuse
from app.errors import ShuttingDown

log = logging.getLogger(__name__)

# Probes keep working while draining: liveness stays 200, readiness turns 503.
PROBE_PATHS = ("/v2/health/live", "/v2/health/ready")
# uvicorn's own graceful timeout, once draining is over: only stragglers are left then.
FINAL_CLOSE_SECONDS = 2


@dataclass
class Lifecycle:
    """What the server's signal handling and the app share: one event loop, no locks."""

    draining: bool = False
    in_flight: int = 0


class DrainMiddleware:
    """Counts requests in flight; while draining, refuses new ones (probes excepted)."""

    def __init__(self, app: ASGIApp, lifecycle: Lifecycle) -> None:
        self.app = app
        self.lifecycle = lifecycle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.lifecycle.draining and scope["path"] not in PROBE_PATHS:
            error = ShuttingDown(
                "the server is shutting down; send the request again (another instance)",
                headers={"retry-after": "1", "connection": "close"},
            )
            await refuse(error, scope, receive, send)
            return
        self.lifecycle.in_flight += 1
        answer = Answer(send, self.lifecycle)
        try:
            await self.app(scope, receive, answer.send)
        except asyncio.CancelledError:
            # uvicorn cancels what is still running when the grace is over: say so with a
            # retryable 503 rather than its plain-text 500. The task ends here either way.
            if not self.lifecycle.draining or answer.started:
                raise
            cut = ShuttingDown(
                "the drain grace was over before this request finished",
                headers={"retry-after": "1"},
            )
            await refuse(cut, scope, receive, answer.send)
        finally:
            self.lifecycle.in_flight -= 1


class Answer:
    """The app's `send`: notes that the answer started; while draining, closes the
    connection after it (no reuse of a server that is leaving)."""

    def __init__(self, send: Send, lifecycle: Lifecycle) -> None:
        self._send = send
        self.lifecycle = lifecycle
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if self.lifecycle.draining:
                headers = [*message.get("headers", []), (b"connection", b"close")]
                message = {**message, "headers": headers}
        await self._send(message)


class DrainingServer(uvicorn.Server):
    """uvicorn.Server that drains (see the module doc) before its own shutdown."""

    def __init__(self, config: uvicorn.Config, lifecycle: Lifecycle, grace: float) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.grace = grace
        self.deferred_signal: int | None = None
        self.drain_deadline = 0.0

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Runs as a signal handler: only set flags here (no logging, no awaiting).
        if self.started and self.deferred_signal is None and self.grace > 0:
            self.deferred_signal = sig
            self.drain_deadline = time.monotonic() + self.grace
            self.lifecycle.draining = True
            return
        super().handle_exit(sig, frame)  # before start-up, a second signal, or no grace

    async def on_tick(self, counter: int) -> bool:
        if self.deferred_signal is not None and not self.should_exit:
            self.finish_draining_when_done(counter)
        return await super().on_tick(counter)

    def finish_draining_when_done(self, counter: int) -> None:
        in_flight = self.lifecycle.in_flight
        overdue = time.monotonic() >= self.drain_deadline
        if in_flight == 0 or overdue:
            if in_flight:
                log.warning("drain grace of %gs is over; %d requests cut", self.grace, in_flight)
            assert self.deferred_signal is not None
            super().handle_exit(self.deferred_signal, None)  # now let uvicorn shut down
        elif counter % 10 == 0:  # once a second
            log.info("draining: %d requests in flight", in_flight)
