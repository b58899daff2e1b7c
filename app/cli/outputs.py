"""What `gradcam explain` writes: overlay files and one JSON Lines record per input.

Overlays are written to a temporary name and renamed, so an interrupted run leaves
complete files only; each JSONL record is one write of one whole line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, TextIO

import numpy as np
from gradcam_client import ExplainResult, TargetExplanation

from app.cli.files import InputImage

EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}


def write_overlays(result: ExplainResult, image: InputImage, out: Path) -> list[str | None]:
    """One overlay file per target, `OUT/<name>.target-<N>.<ext>`; their paths."""
    written: list[str | None] = []
    for target in result.explanation.targets:
        data = target.overlay_bytes
        if data is None:
            written.append(None)
            continue
        extension = EXTENSIONS.get(target.overlay_format or "png", "png")
        path = out / image.name.parent / f"{image.name.stem}.target-{target.target}.{extension}"
        write_atomically(path, data)
        written.append(str(path))
    return written


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)


def success_record(
    image: InputImage, result: ExplainResult, overlays: list[str | None], top_k: int
) -> dict[str, Any]:
    explanation = result.explanation
    return {
        "path": str(image.path),
        "model": result.model_id,
        "method": result.method,
        "layer": result.layer,
        "predictions": [vars(p) for p in result.top_k(top_k)],
        "targets": [
            {
                "target": target.target,
                "label": target.label,
                "score": target.score,
                "scale": target.scale,
                "overlay": overlay,
                "heatmap": np.round(target.heatmap.astype(np.float64), 5).tolist(),
                **target_echo(target),
            }
            for target, overlay in zip(explanation.targets, overlays, strict=True)
        ],
    }


def target_echo(target: TargetExplanation) -> dict[str, Any]:
    """What a region or box target was (docs/targets.md); nothing for a class."""
    if target.kind == "class":
        return {}
    echo = {"kind": target.kind, "box": target.box, "iou": target.iou}
    echo["region_pixels"] = target.region_pixels
    return {key: value for key, value in echo.items() if value is not None}


def failure_record(image: InputImage, problem: str) -> dict[str, Any]:
    return {"path": str(image.path), "error": problem}


def write_record(stream: TextIO, record: dict[str, Any]) -> None:
    stream.write(json.dumps(record, separators=(",", ":")) + "\n")
    stream.flush()
