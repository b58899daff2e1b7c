"""`python -m app`: serve the models with uvicorn (one worker), draining on SIGTERM.

With KServe's explainer arguments (`--model_name NAME --predictor_host HOST[:PORT]
--http_port PORT [--storage_uri PATH]`, `app.kserve`) it serves that one model.
"""

from __future__ import annotations

import os
import sys

import uvicorn
from pydantic import ValidationError
from uvicorn.config import STARTUP_FAILURE

from app.settings import Settings
from app.shutdown import FINAL_CLOSE_SECONDS, DrainingServer

# Exit status for settings that do not validate (like a command-line usage error).
BAD_SETTINGS = 2


def main(argv: list[str] | None = None) -> None:
    """`argv`: the command line's arguments (None: `sys.argv[1:]`; `gradcam serve` has its
    own, which are not KServe's)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:  # KServe's arguments: they set the settings' environment
        from app.kserve import kserve_environment

        os.environ.update(kserve_environment(argv))
    try:
        settings = Settings()
    except ValidationError as exc:
        print(settings_problem(exc), file=sys.stderr)
        sys.exit(BAD_SETTINGS)
    # Imported once the settings are valid: it loads TensorFlow (seconds), which a refusal
    # of bad settings does not need.
    from app.main import create_app

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


def settings_problem(exc: ValidationError) -> str:
    """One line per invalid setting, named as the environment variable that sets it."""
    lines = [
        f"  GRADCAM_{'_'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
        for error in exc.errors()
    ]
    return "gradcam-server cannot start, invalid settings:\n" + "\n".join(lines)


if __name__ == "__main__":
    main()
