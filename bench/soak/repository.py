"""The soak's models folder: a copy of every bundled model, and `shapes_v`, shapes in TF
Serving's layout (version 1 now, version 2 published by rename halfway through)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from bench.server import ROOT

BUNDLED = (
    "efficientnet_lite0",
    "shapes",
    "shapes_vit",
    "keywords",
    "complaints",
    "shapes_seg",
    "shapes_det",
)
VERSIONED = "shapes_v"


def build_models(folder: Path) -> Path:
    """`folder/models` with the bundled models and `shapes_v` version 1."""
    models = folder / "models"
    for model in BUNDLED:
        shutil.copytree(ROOT / "models" / model, models / model)
    versioned = models / VERSIONED
    versioned.mkdir()
    card = (ROOT / "models" / "shapes" / "model.toml").read_text()
    card = re.sub(r"\[sha256\][^\[]*", "", card)  # they name the flat file
    card = re.sub(r'^version = ".*"\n', "", card, flags=re.M)  # folders name versions
    (versioned / "model.toml").write_text(card.replace('id = "shapes"', f'id = "{VERSIONED}"'))
    shutil.copy(ROOT / "models" / "shapes" / "labels.txt", versioned / "labels.txt")
    publish(versioned, 1)
    return models


def publish(folder: Path, version: int) -> None:
    """Written under a name that is not a number, then renamed into place (atomic)."""
    staging = folder / f".{version}.staging"
    staging.mkdir()
    shutil.copy(ROOT / "models" / "shapes" / "model.keras", staging / "model.keras")
    staging.rename(folder / str(version))


def add_remote(models: Path, name: str, card: str) -> None:
    """A remote card beside the others, written whole under a dot name then renamed (the
    watcher never sees half a folder)."""
    staging = models / f".{name}.staging"
    staging.mkdir()
    shutil.copy(ROOT / "models" / "shapes" / "labels.txt", staging / "labels.txt")
    (staging / "model.toml").write_text(card)
    staging.rename(models / name)
