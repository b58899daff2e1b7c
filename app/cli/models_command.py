"""`gradcam models`: the service's models as a table, plain columns, or JSON.

On a terminal rich draws a table; piped or captured (a script, `| cat`, `> file`) it
would draw it 80 columns wide and cut ids (`efficientnet…`), so there the rows are
plain columns sized to their longest cell, and `--json` gives scripts everything.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from gradcam_client import Client, GradcamError, ModelInfo
from rich.console import Console
from rich.table import Table

HEADERS = ("id", "task", "input shape", "labels", "default layer", "candidate layers")
# Past this many candidate layers (an ImageNet net has ~140) the row gives their count.
MAX_LISTED_LAYERS = 24


def models_command(args: argparse.Namespace) -> int:
    try:
        with Client(args.url, args.api_key, timeout=args.timeout) as client:
            summaries = client.models()
            details = [client.model(summary.id) for summary in summaries if summary.ready]
    except GradcamError as exc:
        print(f"gradcam models: {exc}", file=sys.stderr)
        return 1
    not_ready = [summary.id for summary in summaries if not summary.ready]
    if args.json:
        print(models_json(details, not_ready))
    elif sys.stdout.isatty():
        Console(soft_wrap=True).print(models_table(details))
    else:
        print(plain_columns([HEADERS, *(model_row(info) for info in details)]))
    if not_ready:
        print(f"not ready: {', '.join(not_ready)}", file=sys.stderr)
    return 0


def models_json(models: list[ModelInfo], not_ready: list[str]) -> str:
    """Every field of every ready model (candidate layers in full), and the ids not ready."""
    return json.dumps(
        {"models": [dataclasses.asdict(info) for info in models], "not_ready": not_ready},
        indent=2,
    )


def models_table(models: list[ModelInfo]) -> Table:
    table = Table(*HEADERS)
    for info in models:
        table.add_row(*model_row(info))
    return table


def model_row(info: ModelInfo) -> tuple[str, ...]:
    """One model's cells; all but the last are free of spaces, so `awk '{print $1}'` works."""
    shape = "x".join("?" if size is None else str(size) for size in info.input_shape[1:])
    return (
        info.id,
        info.task,
        shape,
        labels_cell(info),
        info.default_layer,
        layer_list(info),
    )


def plain_columns(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart, each as wide as its longest cell: nothing cut."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in rows
    ]
    return "\n".join(line.rstrip() for line in lines)


def labels_cell(info: ModelInfo) -> str:
    """How many labels; for one output (a sigmoid), `1:<its class>` (target 0; the other
    side is its counterfactual). Never a space, so the plain columns stay awk-able."""
    if info.n_classes != 1:
        return str(len(info.labels))
    label = info.labels[0] if info.labels else "class-0"
    return "1:" + label.replace(" ", "_")


def layer_list(info: ModelInfo) -> str:
    names = [layer.name for layer in info.candidate_layers]
    if len(names) <= MAX_LISTED_LAYERS:
        return ", ".join(names)
    return f"{len(names)} (all in GET /v1/models/{info.id})"
