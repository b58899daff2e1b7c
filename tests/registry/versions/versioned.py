"""Model repositories in TF Serving's layout for the tests: `shapes/<version>/model.keras`
(copies of the bundled shapes model) with the card at `shapes/model.toml`."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SHAPES = ROOT / "models" / "shapes"


def shapes_card(extra: str = "") -> str:
    """The bundled card without its checksums (they name the flat file) plus `extra`."""
    card = (SHAPES / "model.toml").read_text()
    before, _, after = card.partition("[sha256]")
    after = after[after.index("[image]") :]
    return before.replace('version = "1"\n', extra + "\n") + after


def versioned_shapes(models_dir: Path, versions: tuple[int, ...] = (1,), extra: str = "") -> Path:
    folder = models_dir / "shapes"
    folder.mkdir(parents=True)
    (folder / "model.toml").write_text(shapes_card(extra))
    shutil.copy(SHAPES / "labels.txt", folder / "labels.txt")
    for version in versions:
        publish(folder, version)
    return folder


def publish(folder: Path, version: int, model: bytes | None = None) -> Path:
    """Write version `version` beside the model under a temporary name, then rename it
    into place: how an operator publishes a version (a rename is atomic)."""
    staging = folder / f".{version}.staging"
    staging.mkdir()
    if model is None:
        shutil.copy(SHAPES / "model.keras", staging / "model.keras")
    else:
        (staging / "model.keras").write_bytes(model)
    target = folder / str(version)
    staging.rename(target)
    return target
