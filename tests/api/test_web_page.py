"""GET / and /web/*: the page's files, their headers, and the switches that turn them off."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.routes.web import WEB_FILES
from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "app" / "web"


def page_client(tmp_path: Path, **settings: object) -> TestClient:
    """An app without models: the page needs none to be served."""
    return TestClient(create_app(Settings(models_dir=tmp_path, _env_file=None, **settings)))


def test_the_page_and_its_files_are_served_with_their_types(tmp_path):
    with page_client(tmp_path) as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.content == (WEB / "index.html").read_bytes()
        for name, media_type in WEB_FILES.items():
            response = client.get(f"/web/{name}")
            assert response.status_code == 200
            assert response.headers["content-type"] == media_type
            assert response.content == (WEB / name).read_bytes()


def test_every_file_of_the_folder_is_served_and_nothing_else(tmp_path):
    assert sorted(WEB_FILES) == sorted(p.name for p in WEB.iterdir())
    with page_client(tmp_path) as client:
        for path in ("/web/../settings.py", "/web/nope.js", "/web/", "/web/%2e%2e%2fmain.py"):
            response = client.get(path)
            assert response.status_code == 404
            assert response.headers["content-type"] == "application/problem+json"


def test_the_page_sends_a_strict_content_security_policy(tmp_path):
    with page_client(tmp_path) as client:
        headers = client.get("/").headers
    policy = headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"


def test_the_page_loads_nothing_from_another_host():
    """No CDN, no external request: every URL in the files is a path on this server."""
    text = "\n".join((WEB / name).read_text() for name in WEB_FILES)
    assert not re.findall(r"(?:src|href)=\"(?!/)", text)
    assert not re.findall(r"https?://(?!127\.0\.0\.1|host:)", text)
    assert "innerHTML" not in text and "insertAdjacentHTML" not in text


@pytest.mark.parametrize(
    "settings", [{"web_enabled": False}, {"docs_enabled": False}], ids=["web off", "docs off"]
)
def test_the_page_can_be_switched_off(tmp_path, settings):
    with page_client(tmp_path, **settings) as client:
        for path in ("/", "/web/app.js"):
            assert client.get(path).status_code == 404
        assert client.get("/v1/models").status_code == 200


def test_with_api_keys_the_page_is_public_but_the_api_is_not(tmp_path):
    with page_client(tmp_path, api_keys=["a-key-for-the-page-test"]) as client:
        assert client.get("/").status_code == 200
        assert client.get("/web/api.js").status_code == 200
        assert client.get("/web/nope.js").status_code == 401  # only the page's own files
        assert client.post("/").status_code == 401
        assert client.get("/v1/models").status_code == 401
        headers = {"x-api-key": "a-key-for-the-page-test"}
        assert client.get("/v1/models", headers=headers).status_code == 200


def test_with_api_keys_and_the_page_off_nothing_is_public(tmp_path):
    with page_client(tmp_path, api_keys=["a-key-for-the-page-test"], web_enabled=False) as client:
        assert client.get("/").status_code == 401


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_a_non_editable_install_carries_the_page(tmp_path):
    """`pip install .` builds a wheel: the page's files must be in it (package data)."""
    pip_wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*pip_wheel, "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("gradcam_server-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {f"app/web/{name}" for name in WEB_FILES} <= names
