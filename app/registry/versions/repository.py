"""The models folder read as a model repository: what is on disk, no TensorFlow.

Two layouts, per model folder `models/<id>/`:
- flat (as before): `model.toml` and the model file side by side; the version is the
  card's `version`;
- TF Serving's: numeric version folders `models/<id>/<version>/`, each holding a model
  file (or a SavedModel), and the card at `models/<id>/model.toml`.
A folder with neither a card nor a version folder is not a model and is skipped.

Each version carries a fingerprint of its files (path, size, mtime): the watcher loads a
new version only once its fingerprint is the same on two polls running.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from app.errors import ModelError
from app.registry.card import CARD_FILE, SAVED_MODEL_FILE, ModelCard, read_card

VERSION_FOLDER = re.compile(r"^\d{1,18}$")  # TF Serving's: a folder named by a number

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class VersionSource:
    version: str
    folder: Path  # the model file resolves here: the version folder (or the model folder)
    fingerprint: Fingerprint | None  # None: a file vanished while it was read


@dataclass(frozen=True)
class ModelSource:
    id: str
    folder: Path
    card: ModelCard | None
    error: str | None = None  # why the model cannot be served (no card, a bad card)
    versioned: bool = False
    versions: dict[str, VersionSource] = field(default_factory=dict)

    def card_for(self, version: VersionSource) -> ModelCard:
        """The card of one version: a version folder's name is its version."""
        assert self.card is not None
        if not self.versioned:
            return self.card
        return self.card.model_copy(update={"version": version.version})


def scan_models(models_dir: Path) -> dict[str, ModelSource]:
    """Every model folder of `models_dir` with its versions, by id."""
    if not models_dir.is_dir():
        raise ModelError(f"models directory {models_dir} does not exist")
    sources = {}
    for folder in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        source = scan_model(folder)
        if source is not None:
            sources[source.id] = source
    return sources


def scan_model(folder: Path) -> ModelSource | None:
    version_folders = sorted(
        (p for p in folder.iterdir() if p.is_dir() and VERSION_FOLDER.match(p.name)),
        key=lambda p: int(p.name),
    )
    if not (folder / CARD_FILE).is_file():
        if not version_folders:
            return None
        if not any((p / SAVED_MODEL_FILE).is_file() for p in version_folders):
            return ModelSource(
                folder.name,
                folder,
                None,
                error=f"{folder.name}/ has version folders but no {CARD_FILE} and no "
                "SavedModel: this service needs a card beside them (task, preprocessing; "
                "see docs/model-repository.md)",
            )
        try:
            card = cardless_card(folder.name)
        except ValidationError as exc:
            return ModelSource(folder.name, folder, None, error=f"{folder.name}/: {exc}")
    else:
        try:
            card = read_card(folder)
        except ModelError as exc:
            return ModelSource(folder.name, folder, None, error=str(exc))
    if not version_folders:  # the flat layout: one version, the card's
        versions = {card.version: VersionSource(card.version, folder, fingerprint(folder))}
        return ModelSource(card.id, folder, card, versions=versions)
    versions = {
        str(int(p.name)): VersionSource(str(int(p.name)), p, fingerprint(p))
        for p in version_folders
    }
    return ModelSource(card.id, folder, card, versioned=True, versions=versions)


def cardless_card(model_id: str) -> ModelCard:
    """TF Serving's folder as it is: SavedModel versions and no card. Enough for a graph
    that decodes encoded images itself; any other signature is refused at load time,
    naming what a card must add. Never required: it cannot stop the service."""
    return ModelCard(
        id=model_id,
        task="image",
        required=False,
        description="no model.toml: a SavedModel that takes encoded images",
    )


def fingerprint(folder: Path) -> Fingerprint | None:
    """(relative path, size, mtime in ns) of every file under `folder`, sorted."""
    entries = []
    try:
        for directory, _, names in os.walk(folder):
            for name in names:
                path = Path(directory, name)
                stat = path.stat()
                relative = path.relative_to(folder).as_posix()
                entries.append((relative, stat.st_size, stat.st_mtime_ns))
    except OSError:  # a file renamed or removed under us: not stable yet
        return None
    return tuple(sorted(entries))
