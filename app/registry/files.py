"""Files named by a card: confined to the models directory and checked against sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.errors import ModelError
from app.registry.card import ModelCard


def card_file(models_dir: Path, card: ModelCard, relative: str, folder: Path | None = None) -> Path:
    """The path of a file a card names, relative to `folder` (default: the model's folder);
    it must exist, stay inside the models dir and match its sha256 when the card gives one
    (keyed by its path from the model's folder: `model.keras`, `2/model.keras`)."""
    root = models_dir.resolve()
    home = root / card.id
    base = home if folder is None else folder.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(root):
        raise ModelError(f"model {card.id}: {relative!r} points outside the models directory")
    if not path.is_file():
        raise ModelError(f"model {card.id}: file {relative!r} is missing")
    key = relative if base == home else f"{base.name}/{relative}"
    expected = card.sha256.get(key)
    if expected is not None and file_sha256(path) != expected.lower():
        raise ModelError(f"model {card.id}: {relative!r} does not match its sha256")
    return path


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_lines(path: Path) -> tuple[str, ...]:
    """One entry per line (labels, vocabulary); a trailing newline adds no entry."""
    return tuple(path.read_text(encoding="utf-8").splitlines())
