"""Files of the shared folder beside the repository (`<repo>/../shared`), e.g. ELI5's models.

CI clones the repository with a copy of `shared/` beside it, so there a missing file is a
failure; elsewhere the test is skipped, saying what is missing. `GRADCAM_SHARED_DIR`
points somewhere else (a git worktree whose parent holds no `shared/`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_dir() -> Path:
    return Path(os.environ.get("GRADCAM_SHARED_DIR") or REPO_ROOT.parent / "shared")


def shared_file(relative: str) -> Path:
    """`shared/<relative>`; skipped when absent, failed when absent under CI."""
    path = shared_dir() / relative
    if path.is_file():
        return path
    reason = f"{path} is absent: the shared folder beside the repository is needed"
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


SENTIMENT_H5 = "models/eli5-sentiment/keras_sentiment_classifier.h5"


def eli5_sentiment_published() -> dict:
    """What ELI5's docs published for the sentiment model (tests/data, with its source)."""
    return json.loads((REPO_ROOT / "tests/data/eli5_sentiment_published.json").read_text())
