"""`gradcam models`: the service's models as a table."""

from __future__ import annotations

import argparse
import sys

from gradcam_client import Client, GradcamError, ModelInfo
from rich.console import Console
from rich.table import Table


def models_command(args: argparse.Namespace) -> int:
    try:
        with Client(args.url, args.api_key, timeout=args.timeout) as client:
            summaries = client.models()
            details = [client.model(summary.id) for summary in summaries if summary.ready]
    except GradcamError as exc:
        print(f"gradcam models: {exc}", file=sys.stderr)
        return 1
    Console(soft_wrap=True).print(models_table(details))
    not_ready = [summary.id for summary in summaries if not summary.ready]
    if not_ready:
        print(f"not ready: {', '.join(not_ready)}", file=sys.stderr)
    return 0


# Past this many candidate layers (an ImageNet net has ~140) the row gives their count.
MAX_LISTED_LAYERS = 24


def models_table(models: list[ModelInfo]) -> Table:
    table = Table("id", "task", "input shape", "labels", "candidate layers", "default layer")
    for info in models:
        shape = "x".join("?" if size is None else str(size) for size in info.input_shape[1:])
        table.add_row(
            info.id, info.task, shape, labels_cell(info), layer_list(info), info.default_layer
        )
    return table


def labels_cell(info: ModelInfo) -> str:
    """How many labels; for one output (a sigmoid), its class and the other side."""
    if info.n_classes != 1:
        return str(len(info.labels))
    label = info.labels[0] if info.labels else "class 0"
    return f"1 output: {label} / not {label} (counterfactual)"


def layer_list(info: ModelInfo) -> str:
    names = [layer.name for layer in info.candidate_layers]
    if len(names) <= MAX_LISTED_LAYERS:
        return ", ".join(names)
    return f"{len(names)} (all in GET /v1/models/{info.id})"
