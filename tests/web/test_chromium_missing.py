"""Without /usr/bin/chromium the browser tests skip locally and fail in CI, saying why."""

from pathlib import Path

import pytest

import tests.web.conftest as c


def test_skip(monkeypatch):
    monkeypatch.setattr(c, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="missing"):
        c.require_chromium()


def test_fail(monkeypatch):
    monkeypatch.setattr(c, "CHROMIUM", Path("/nonexistent/chromium"))
    monkeypatch.setenv("CI", "1")
    with pytest.raises(pytest.fail.Exception, match="in CI"):
        c.require_chromium()
