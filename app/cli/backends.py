"""Where `gradcam explain` sends each image: a running service, or this process.

Both answer with the client's typed ExplainResult, so the rest of the command does not
care which. `--local` goes through `app.explain.explain_images`, the routes' explain
layer, on a registry holding the one model (TensorFlow is imported only here).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from pathlib import Path
from typing import Any, Protocol

from gradcam_client import Client, ExplainResult, ProblemError, TransportError
from gradcam_client.results import parse_explain
from gradcam_client.targets import box_target, region_target


class ExplainFailure(Exception):
    """One input could not be explained; the message says why (status, title, detail)."""


class Backend(Protocol):
    def explain(self, data: bytes) -> ExplainResult: ...

    def close(self) -> None: ...


# Pixel-level and black-box options (app.cli.parser.add_method_options), as the API names them.
METHOD_OPTIONS = (
    "samples",
    "noise",
    "seed",
    "steps",
    "baseline",
    "occlusion_window",
    "occlusion_stride",
    "rise_masks",
    "rise_cells",
)


def options_of(args: argparse.Namespace) -> dict[str, Any]:
    """The explain options the command line set (None: not set)."""
    layers = [layer_of(part) for part in args.layer.split(",")] if args.layer else [None]
    return {
        "targets": command_targets(args),
        "method": args.method,
        "layer": layers[0] if len(layers) == 1 else layers,
        "overlay_format": args.format,
        "eigen_smooth": args.eigen_smooth or None,
        "aug_smooth": args.aug_smooth or None,
        **{name: getattr(args, name) for name in METHOD_OPTIONS},
    }


def layer_of(text: str) -> int | str:
    """A layer index (digits) or name."""
    text = text.strip()
    return int(text) if text.lstrip("-").isdigit() else text


def command_targets(args: argparse.Namespace) -> list[Any] | None:
    """`--target`, with `--box`, `--mask` and `--output` as target objects (the service's
    docs/targets.md): each class with each box, or with the mask; a box or mask alone
    explains its top class."""
    classes: list[int | None] = list(args.target) if args.target else [None]
    if args.mask is not None:
        mask = region_target(None, args.mask.read_bytes())["mask"]
        objects = [{"class": cls, "mask": mask} for cls in classes]
    elif args.box:
        objects = [box_target(cls, box) for box in args.box for cls in classes]
    elif args.output is not None:
        objects = [{"class": cls} for cls in classes]
    else:
        return args.target  # type: ignore[no-any-return]
    return [obj if args.output is None else {**obj, "output": args.output} for obj in objects]


class RemoteBackend:
    """The service at `--url`, through the Python client (one pool, thread-safe)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.model = args.model
        self.options = options_of(args)
        self.client = Client(args.url, args.api_key, timeout=args.timeout)
        try:
            self.client.labels(self.model)  # an unknown model or no service: fail once, now
        except (ProblemError, TransportError) as exc:
            self.client.close()
            raise ExplainFailure(str(exc)) from exc

    def explain(self, data: bytes) -> ExplainResult:
        try:
            return self.client.explain_image(self.model, data, **self.options)
        except ProblemError as exc:
            raise ExplainFailure(f"{exc.status} {exc.title}: {exc.detail}") from exc
        except TransportError as exc:
            raise ExplainFailure(str(exc)) from exc

    def close(self) -> None:
        self.client.close()


class LocalBackend:
    """The model loaded in this process from `--models-dir`; no server, no batching."""

    def __init__(self, args: argparse.Namespace) -> None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow is imported
        from app.errors import ExplainError, ModelError
        from app.preprocess.image import ImageLimits
        from app.settings import Settings

        self.errors = ExplainError
        self.settings = Settings(models_dir=args.models_dir)
        self.limits = ImageLimits(self.settings.max_image_pixels, self.settings.max_image_side)
        self.options = options_of(args)
        try:
            self.served = load_one_model(self.settings, args.model)
        except (ModelError, ExplainError) as exc:
            raise ExplainFailure(str(exc)) from exc

    def explain(self, data: bytes) -> ExplainResult:
        from app.explain.images import explain_images
        from app.explain.options import ExplainOptions

        settings = self.settings
        options = {key: value for key, value in self.options.items() if value is not None}
        if "targets" in options:
            options["targets"] = local_targets(options["targets"])
        try:
            explain_options = ExplainOptions(
                colormap=settings.colormap,
                alpha_limit=settings.alpha_limit,
                overlay_max_side=settings.overlay_max_side,
                max_tokens=settings.max_tokens,
                **options,
            )
        except TypeError as exc:  # an option this server version does not know
            raise ExplainFailure(f"not supported by the local explain layer: {exc}") from exc
        try:
            result = explain_images(self.served, [data], explain_options, self.limits)
        except self.errors as exc:
            raise ExplainFailure(f"{exc.status} {exc.title}: {exc.detail}") from exc
        answer = dataclasses.asdict(result)
        answer.setdefault("method", self.options["method"] or "gradcam")
        return parse_explain(answer, self.served.labels)

    def close(self) -> None:
        pass


def local_targets(targets: list[Any]) -> list[Any]:
    """Target objects as the explain layer takes them, validated as the API does."""
    from app.api.routes.explain import request_targets
    from app.api.schemas import TargetObject

    try:
        items = [t if isinstance(t, int) else TargetObject.model_validate(t) for t in targets]
    except ValueError as exc:
        raise ExplainFailure(f"bad target: {exc}") from exc
    return request_targets(items) or []


def load_one_model(settings: Any, model_id: str) -> Any:
    """A registry built from the models folder with just `model_id` in it, warmed up
    (its first trace is paid before the progress bar starts)."""
    from app.errors import ModelNotFound
    from app.pipeline import configure_engine
    from app.registry.registry import Registry, load_latest

    models_dir: Path = settings.models_dir
    folder = models_dir / model_id
    if not (folder / "model.toml").is_file():
        raise ModelNotFound(f"model {model_id!r} has no model.toml in {models_dir}")
    configure_engine(settings)
    served = load_latest(models_dir, model_id, settings.device)
    served.warm_up()
    registry = Registry.of(served)
    return registry.get(model_id)
