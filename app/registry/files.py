"""Files named by a card: confined to the models directory and checked against sha256."""

from __future__ import annotations

import csv
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
    if not path.is_file() and not (path / "saved_model.pb").is_file():  # a SavedModel folder
        raise ModelError(f"model {card.id}: file {relative!r} is missing")
    key = "" if base == home else f"{base.name}/"
    if path.is_dir():  # a SavedModel: its files' hashes are listed as "<folder>/<file>"
        inside = [name for name in card.sha256 if name.startswith(key + relative.rstrip("/") + "/")]
        for name in inside:
            check_sha256(card, home / name, name)
        return path
    check_sha256(card, path, key + relative)
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


def read_entries(path: Path) -> tuple[str, ...]:
    """Labels or a vocabulary, entry i at index i: a `.csv` index or one entry a line."""
    return read_indexed_csv(path) if path.suffix.lower() == ".csv" else read_lines(path)


def read_lines(path: Path) -> tuple[str, ...]:
    """One entry per line (labels, vocabulary); a trailing newline adds no entry."""
    return tuple(path.read_text(encoding="utf-8").splitlines())


def read_indexed_csv(path: Path) -> tuple[str, ...]:
    """A `{entry: index}` dict as pandas' `to_csv` writes it: a header row, then one
    `entry,index` row each (CSV quoting, so an entry may be a comma or a newline).

    The indices must be 0..n-1, each once: the result is the entries in index order.
    """
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    by_index: dict[int, str] = {}
    for line, row in enumerate(rows, start=2):
        if len(row) != 2 or not row[1].isdigit():
            raise ModelError(f"row {line}: expected entry,index; got {row!r}")
        if by_index.setdefault(int(row[1]), row[0]) != row[0]:
            raise ModelError(f"row {line}: index {row[1]} is given twice")
    if sorted(by_index) != list(range(len(by_index))):
        raise ModelError(f"the indices are not 0..{len(by_index) - 1}, each once")
    return tuple(by_index[index] for index in range(len(by_index)))
