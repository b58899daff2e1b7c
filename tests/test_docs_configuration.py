"""docs/configuration.md names every setting of app/settings.py as its GRADCAM_ variable."""

from __future__ import annotations

import re
from pathlib import Path

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def documented_variables() -> set[str]:
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return set(re.findall(r"`(GRADCAM_[A-Z0-9_]+)`", text))


def test_every_setting_is_documented():
    settings = {f"GRADCAM_{name.upper()}" for name in Settings.model_fields}
    missing = settings - documented_variables()
    assert not missing, f"document {sorted(missing)} in docs/configuration.md"


def test_only_settings_are_documented():
    settings = {f"GRADCAM_{name.upper()}" for name in Settings.model_fields}
    unknown = documented_variables() - settings
    assert not unknown, f"docs/configuration.md names {sorted(unknown)}, not settings"
