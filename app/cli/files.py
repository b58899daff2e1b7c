"""The images a command line names: files, and folders searched recursively."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class InputImage:
    path: Path  # where to read it
    name: Path  # where its outputs go, relative to --out (its path under the folder named)


def find_images(paths: list[Path]) -> list[InputImage]:
    """Every named file, and every image under every named folder, in a stable order.

    Raises FileNotFoundError for a path that does not exist."""
    found: list[InputImage] = []
    for path in paths:
        if path.is_dir():
            images = sorted(p for p in path.rglob("*") if is_image_file(p))
            found += [InputImage(image, image.relative_to(path)) for image in images]
        elif path.is_file():
            found.append(InputImage(path, Path(path.name)))
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return found


def is_image_file(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()
