"""The command line: argparse sub-commands, each with a `run(args) -> exit status`."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

DEFAULT_URL = "http://127.0.0.1:8000"
OVERLAY_FORMATS = ("auto", "png", "jpeg", "webp")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcam", description="Grad-CAM explanations of Keras classifiers."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the HTTP service (the same as python -m app)")
    serve.set_defaults(run=run_serve)
    add_explain(commands.add_parser("explain", help="explain image files or folders"))
    add_audit(commands.add_parser("audit", help="audit the maps of a model on a labelled set"))
    models = commands.add_parser("models", help="the served models, inputs and layers")
    add_server_options(models)
    models.add_argument(
        "--json", action="store_true", help="every field of every model as JSON, for scripts"
    )
    models.set_defaults(run=run_models)
    return parser


def add_server_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--url",
        default=os.environ.get("GRADCAM_URL", DEFAULT_URL),
        help="the service (default: $GRADCAM_URL or %(default)s)",
    )
    parser.add_argument(
        "--api-key", default=os.environ.get("GRADCAM_API_KEY"), help="default: $GRADCAM_API_KEY"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per request (default %(default)s)"
    )


def add_explain(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="images or folders")
    parser.add_argument("--model", required=True, help="model id")
    add_server_options(parser)
    parser.add_argument("--local", action="store_true", help="explain in this process (no server)")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("GRADCAM_MODELS_DIR", "models")),
        help="with --local: the models folder (default: $GRADCAM_MODELS_DIR or models)",
    )
    parser.add_argument("--target", type=int, nargs="+", help="class indices (default: top one)")
    parser.add_argument(
        "--box",
        type=box_argument,
        action="append",
        metavar="X0,Y0,X1,Y1",
        help="detection: explain the predicted box matching this one (image pixels; repeatable)",
    )
    parser.add_argument(
        "--mask", type=Path, help="segmentation: a PNG at the image's size, non-zero = inside"
    )
    parser.add_argument("--output", help="the model output to explain (default: the card's)")
    parser.add_argument("--method", help="CAM method (default: the service's)")
    parser.add_argument(
        "--layer",
        help="target layer name or index (default: the model's); several: comma-separated",
    )
    parser.add_argument(
        "--eigen-smooth", action="store_true", help="pytorch-grad-cam's eigen_smooth"
    )
    parser.add_argument("--aug-smooth", action="store_true", help="pytorch-grad-cam's aug_smooth")
    add_method_options(parser.add_argument_group("pixel-level and black-box methods"))
    parser.add_argument("--out", type=Path, default=Path("gradcam-out"), help="overlay folder")
    parser.add_argument(
        "--format",
        choices=OVERLAY_FORMATS,
        default="auto",
        help="overlay format (default auto: JPEG for JPEG photos, PNG otherwise)",
    )
    parser.add_argument(
        "--json", type=Path, help="JSON Lines output (default: OUT/explanations.jsonl)"
    )
    parser.add_argument("--jobs", type=positive_int, default=1, help="images in flight")
    parser.add_argument("--top-k", type=positive_int, default=5, help="predictions per image")
    parser.set_defaults(run=run_explain)


def add_method_options(group: argparse._ArgumentGroup) -> None:
    """The options of the pixel-level and black-box methods (docs/methods.md); unset, the
    service's defaults apply."""
    group.add_argument("--samples", type=positive_int, help="smoothgrad: noisy copies (20)")
    group.add_argument("--noise", type=float, help="smoothgrad: sigma / (max - min) (0.2)")
    group.add_argument("--seed", type=int, help="smoothgrad's noise, RISE's masks")
    group.add_argument("--steps", type=positive_int, help="integrated-gradients: steps (32)")
    group.add_argument(
        "--baseline", choices=("black", "white", "blur"), help="integrated-gradients (black)"
    )
    group.add_argument(
        "--occlusion-window", type=positive_int, help="occlusion: px (an eighth of the side)"
    )
    group.add_argument("--occlusion-stride", type=positive_int, help="occlusion: px (window/2)")
    group.add_argument("--rise-masks", type=positive_int, help="rise: random masks (2000)")
    group.add_argument("--rise-cells", type=positive_int, help="rise: cells a side (7)")


def add_audit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="DIR", help="the images")
    parser.add_argument("--labels", type=Path, required=True, help="CSV: path,label")
    parser.add_argument("--boxes", type=Path, help="CSV: path,x0,y0,x1,y1 (image pixels)")
    parser.add_argument("--model", required=True, help="model id")
    parser.add_argument("--method", nargs="+", help="CAM methods (default gradcam)")
    parser.add_argument(
        "--check", nargs="+", help="checks (default pointing energy-pointing); see docs/audit.md"
    )
    parser.add_argument("--pointing-margin", type=float, default=15.0, help="pixels (15)")
    parser.add_argument("--seed", type=int, default=0, help="randomisation and random-logit")
    parser.add_argument("--report", type=Path, required=True, help="the HTML report to write")
    parser.add_argument("--json", type=Path, help="the JSON result (default: REPORT.json)")
    add_server_options(parser)
    parser.add_argument("--local", action="store_true", help="audit in this process")
    parser.add_argument("--ray", metavar="ADDRESS", help="spread the set over a Ray cluster")
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=Path(os.environ.get("GRADCAM_MODELS_DIR", "models")),
        help="with --local or --ray: the models folder (default: $GRADCAM_MODELS_DIR or models)",
    )
    parser.set_defaults(run=run_audit)


def box_argument(text: str) -> tuple[float, float, float, float]:
    parts = text.split(",")
    try:
        x0, y0, x1, y1 = (float(part) for part in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a box is x0,y0,x1,y1 in pixels, not {text!r}") from None
    return (x0, y0, x1, y1)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def run_serve(args: argparse.Namespace) -> int:
    from app.__main__ import main

    main([])  # `gradcam serve` takes no KServe arguments: the command line is the CLI's
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from app.cli.explain_command import explain_command

    return explain_command(args)


def run_audit(args: argparse.Namespace) -> int:
    from app.cli.audit_command import audit_command

    return audit_command(args)


def run_models(args: argparse.Namespace) -> int:
    from app.cli.models_command import models_command

    return models_command(args)
