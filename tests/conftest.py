"""Test-wide set-up: quiet TensorFlow's C++ start-up logging (set before it is imported),
and one live server process shared by the client and CLI tests."""

import os
from collections.abc import Iterator

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `gradcam serve` on loopback serving shapes and keywords (tests/live_server.py)."""
    from tests.live_server import CLI_SERVE, live_server

    with live_server(tmp_path_factory.mktemp("live-server"), CLI_SERVE) as url:
        yield url
