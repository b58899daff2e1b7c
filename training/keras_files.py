"""Saving trained models the way the service loads them, reproducibly.

The service loads with `compile=False`, so a saved optimizer would only bloat the
file; and a `.keras` zip carries a save date, zip timestamps and Python object ids
that change from one save to the next. Both are removed here, so a retrain with the
same seed reproduces the committed file and its sha256 byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import keras


def save_for_serving(trained: keras.Model, fresh: keras.Model, path: Path) -> None:
    """Save `trained`'s weights inside `fresh`, an uncompiled model of the same build."""
    fresh.set_weights(trained.get_weights())
    fresh.save(path)
    make_reproducible(path)


def make_reproducible(path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = [(info, archive.read(info)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w") as archive:
        for info, data in entries:
            if info.filename == "metadata.json":
                metadata = json.loads(data)
                metadata.pop("date_saved", None)
                data = json.dumps(metadata).encode()
            if info.filename == "config.json":
                data = json.dumps(renumber_shared_objects(json.loads(data))).encode()
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = info.compress_type
            archive.writestr(fixed, data)


def renumber_shared_objects(config: object, numbers: dict[object, int] | None = None) -> object:
    """Replace each `shared_object_id` (an `id()` of the process that saved) by its
    order of first appearance; equal ids stay equal, so sharing survives loading."""
    numbers = {} if numbers is None else numbers
    if isinstance(config, list):
        return [renumber_shared_objects(item, numbers) for item in config]
    if not isinstance(config, dict):
        return config
    renumbered = {key: renumber_shared_objects(value, numbers) for key, value in config.items()}
    if "shared_object_id" in config:
        renumbered["shared_object_id"] = numbers.setdefault(
            config["shared_object_id"], len(numbers) + 1
        )
    return renumbered


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
