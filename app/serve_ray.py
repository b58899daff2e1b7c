"""Ray Serve: the app of `create_app`, unchanged, as a Serve deployment spread over a cluster.

Each replica builds its own app, and so its own registry, from `GRADCAM_*` environment
variables (set them in the Serve config's `runtime_env.env_vars`). Serve runs the app's
lifespan, which loads and warms every model, before the replica takes traffic.

Versions follow the same rules as in a single process (docs/model-repository.md): each
replica's lifespan starts its own folder watcher (`GRADCAM_POLL_SECONDS`), so mount the
same model base path into every node; a replica swaps versions on its own, within a poll
of the others, and stays healthy throughout (a new version warms up beside the serving
one before it takes requests).

Run with `serve run app.serve_ray:build` or `serve deploy deploy/ray/serve.yaml`; the
config sets replicas, autoscaling and resources per replica.
"""

from __future__ import annotations

from typing import Any, cast

from fastapi import FastAPI
from ray import serve
from ray.serve import Application, Deployment

from app.main import create_app
from app.settings import Settings


def build_replica_app() -> FastAPI:
    """Called inside each replica (not in the driver), so nothing is pickled but this name."""
    return create_app(Settings())


@serve.deployment(name="gradcam")
@serve.ingress(build_replica_app)
class GradcamDeployment:
    app: FastAPI  # set by the ingress wrapper before the first health check

    def check_health(self) -> None:
        """Serve's periodic replica check: the same condition as GET /v2/health/ready
        (every model has a version serving, loaded and warmed)."""
        if not self.app.state.registry.ready:
            raise RuntimeError("the models are not loaded and warmed")


def build(args: dict[str, Any]) -> Application:
    """Application builder for `import_path: app.serve_ray:build` (takes no arguments)."""
    if args:
        raise ValueError(f"no arguments expected, got {sorted(args)}: use GRADCAM_* env_vars")
    return cast(Deployment, GradcamDeployment).bind()  # mypy ignores class decorators
