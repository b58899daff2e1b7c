"""Files named by a card: confined to the models directory and checked against sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

from app.errors import ModelError
from app.registry.card import ModelCard


def card_file(models_dir: Path, card: ModelCard, relative: str) -> Path:
    """The path of a file a card names; it must exist, stay inside the models dir and match
    its sha256 when the card gives one."""
    root = models_dir.resolve()
    path = (root / card.id / relative).resolve()
    if not path.is_relative_to(root):
        raise ModelError(f"model {card.id}: {relative!r} points outside the models directory")
    if not path.is_file() and not (path / "saved_model.pb").is_file():  # a SavedModel folder
        raise ModelError(f"model {card.id}: file {relative!r} is missing")
    if path.is_dir():  # a SavedModel: its files' hashes are listed as "<folder>/<file>"
        inside = [name for name in card.sha256 if name.startswith(relative.rstrip("/") + "/")]
        for name in inside:
            check_sha256(card, root / card.id / name, name)
        return path
    check_sha256(card, path, relative)
    return path


def check_sha256(card: ModelCard, path: Path, relative: str) -> None:
    expected = card.sha256.get(relative)
    if expected is not None and (not path.is_file() or file_sha256(path) != expected.lower()):
        raise ModelError(f"model {card.id}: {relative!r} does not match its sha256")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_lines(path: Path) -> tuple[str, ...]:
    """One entry per line (labels, vocabulary); a trailing newline adds no entry."""
    return tuple(path.read_text(encoding="utf-8").splitlines())
