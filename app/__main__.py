"""`python -m app`: serve the models with uvicorn (one worker), draining on SIGTERM."""

from __future__ import annotations

import sys

import uvicorn
from uvicorn.config import STARTUP_FAILURE

from app.main import create_app
from app.settings import Settings
from app.shutdown import FINAL_CLOSE_SECONDS, DrainingServer


def main() -> None:
    settings = Settings()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=FINAL_CLOSE_SECONDS,
    )
    server = DrainingServer(config, app.state.lifecycle, grace=settings.shutdown_grace)
    server.run()
    if not server.started:  # the lifespan failed: a model could not be loaded
        sys.exit(STARTUP_FAILURE)


if __name__ == "__main__":
    main()
