"""Settings: GRADCAM_* variables, validated at start-up with a message a person can act on."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def from_env(monkeypatch, **variables):
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


def test_environment_variables_set_the_fields(monkeypatch):
    settings = from_env(
        monkeypatch,
        GRADCAM_PORT="9000",
        GRADCAM_COLORMAP="jet",
        GRADCAM_CORS_ORIGINS="https://a.example, https://b.example",
        GRADCAM_MAX_QUEUE="4",
    )
    assert settings.port == 9000 and settings.colormap == "jet" and settings.max_queue == 4
    assert settings.cors_origins == ["https://a.example", "https://b.example"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("GRADCAM_PORT", "70000"),
        ("GRADCAM_PORT", "abc"),
        ("GRADCAM_COLORMAP", "rainbow"),
        ("GRADCAM_ALPHA_LIMIT", "1.5"),
        ("GRADCAM_DEVICE", "gpu"),
        ("GRADCAM_MAX_QUEUE", "0"),
    ],
)
def test_invalid_values_are_refused_naming_the_field(monkeypatch, name, value):
    with pytest.raises(ValidationError) as refused:
        from_env(monkeypatch, **{name: value})
    field = name.removeprefix("GRADCAM_").lower()
    assert [error["loc"] for error in refused.value.errors()] == [(field,)]


def test_the_service_does_not_start_with_invalid_settings():
    env = dict(os.environ, GRADCAM_PORT="abc", GRADCAM_COLORMAP="rainbow")
    result = subprocess.run(
        [sys.executable, "-m", "app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "invalid settings" in result.stderr
    assert "GRADCAM_PORT" in result.stderr and "GRADCAM_COLORMAP" in result.stderr
    assert "Traceback" not in result.stderr
