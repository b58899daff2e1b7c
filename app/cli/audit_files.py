"""The labelled set of `gradcam audit`: images under a folder, labels and boxes from CSV.

labels.csv has a header `path,label` (label: a class index or the class's name) and
boxes.csv a header `path,x0,y0,x1,y1` (pixels of the image, x1 and y1 exclusive); paths
are relative to the folder. An image without a label is left out; a label for a missing
image, or a box for an image without a label, is an error.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path


class AuditSetError(Exception):
    """The labelled set cannot be read; the message says which file and row."""


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    name: str  # its path under the folder, as the report shows it
    label: int | str  # index, or a class name the model's labels resolve
    box: tuple[float, float, float, float] | None = None


def read_rows(path: Path, header: list[str]) -> list[list[str]]:
    try:
        with path.open(newline="", encoding="utf-8") as stream:
            rows = [row for row in csv.reader(stream) if row and any(cell.strip() for cell in row)]
    except OSError as exc:
        raise AuditSetError(f"{path}: {exc.strerror}") from exc
    if not rows or [cell.strip() for cell in rows[0]] != header:
        raise AuditSetError(f"{path}: the first row must be the header {','.join(header)}")
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise AuditSetError(f"{path}:{number}: {len(row)} columns, expected {len(header)}")
    return [[cell.strip() for cell in row] for row in rows[1:]]


def labelled_set(folder: Path, labels: Path, boxes: Path | None = None) -> list[LabelledImage]:
    label_of = {row[0]: row[1] for row in read_rows(labels, ["path", "label"])}
    box_of: dict[str, tuple[float, float, float, float]] = {}
    if boxes is not None:
        for number, row in enumerate(read_rows(boxes, ["path", "x0", "y0", "x1", "y1"]), start=2):
            try:
                x0, y0, x1, y1 = (float(cell) for cell in row[1:])
            except ValueError:
                raise AuditSetError(f"{boxes}:{number}: the box is not four numbers") from None
            if row[0] not in label_of:
                raise AuditSetError(f"{boxes}:{number}: {row[0]} has no label in {labels}")
            box_of[row[0]] = (x0, y0, x1, y1)
    found = []
    for name, label in label_of.items():
        path = folder / name
        if not path.is_file():
            raise AuditSetError(f"{labels}: {name} is not a file under {folder}")
        value: int | str = int(label) if label.isdigit() else label
        found.append(LabelledImage(path, name, value, box_of.get(name)))
    return found


def label_index(label: int | str, labels: tuple[str, ...], name: str) -> int:
    if isinstance(label, int):
        return label
    if label not in labels:
        raise AuditSetError(f"{name}: label {label!r} is not one of {', '.join(labels)}")
    return labels.index(label)
