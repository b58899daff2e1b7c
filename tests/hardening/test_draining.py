"""Draining after SIGTERM, in process: what the app answers, and when the server stops.

The real signal, socket and exit are in test_server_process.py (slow); these check the
same rules quickly.
"""

import asyncio
import signal
import time

import pytest
import uvicorn
from fastapi.testclient import TestClient

from app.shutdown import DrainingServer, Lifecycle
from tests.hardening.conftest import KEYWORDS, assert_problem


def test_while_draining_readiness_and_new_work_are_refused_and_liveness_stays(make_app):
    with TestClient(make_app()) as client:
        assert client.get("/v2/health/ready").status_code == 200
        client.app.state.lifecycle.draining = True
        ready = assert_problem(client.get("/v2/health/ready"), 503)
        assert ready["title"] == "Shutting down"
        assert client.get("/v2/health/live").status_code == 200
        refused = client.post(KEYWORDS, json={"instances": [{"text": "goal"}]})
        assert assert_problem(refused, 503)["title"] == "Shutting down"
        assert refused.headers["retry-after"] == "1"
        assert refused.headers["connection"] == "close"
        assert_problem(client.get("/v2/models/keywords/ready"), 503)


def test_requests_in_flight_are_counted(make_app):
    app = make_app()
    seen = []

    @app.get("/probe-in-flight")
    def probe() -> dict:
        seen.append(app.state.lifecycle.in_flight)
        return {}

    with TestClient(app) as client:
        client.get("/probe-in-flight")
    assert seen == [1] and app.state.lifecycle.in_flight == 0


@pytest.fixture
def server():
    lifecycle = Lifecycle()
    drainer = DrainingServer(uvicorn.Config(app=None), lifecycle, grace=5)  # type: ignore[arg-type]
    drainer.started = True
    return drainer


def tick(server) -> None:
    asyncio.run(server.on_tick(1))


def test_the_first_signal_drains_and_the_server_stops_once_nothing_is_in_flight(server):
    server.lifecycle.in_flight = 2
    server.handle_exit(signal.SIGTERM, None)
    assert server.lifecycle.draining and not server.should_exit
    tick(server)
    assert not server.should_exit  # still two in flight
    server.lifecycle.in_flight = 0
    tick(server)
    assert server.should_exit


def test_the_grace_ends_draining_with_requests_still_in_flight(server):
    server.lifecycle.in_flight = 1
    server.handle_exit(signal.SIGTERM, None)
    server.drain_deadline = time.monotonic() - 0.1  # as if the grace had passed
    tick(server)
    assert server.should_exit


def test_a_second_signal_stops_at_once(server):
    server.lifecycle.in_flight = 1
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit


@pytest.mark.parametrize(("started", "grace"), [(False, 5), (True, 0)])
def test_before_start_up_or_without_grace_uvicorn_stops_as_usual(server, started, grace):
    server.started, server.grace = started, grace
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit and not server.lifecycle.draining
