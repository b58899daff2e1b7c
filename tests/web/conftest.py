"""The page in a real browser: Debian's Chromium (never a downloaded one) driven by
Playwright, against a real `python -m app` process on a free loopback port.

Screenshots of each state go to tests/web/screenshots/ (git-ignored) for a person to
look at. Without /usr/bin/chromium the tests skip, or fail when CI is set.
"""

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.live_server import free_port, wait_until_ready
from tests.web.shapes_tagger import write_shapes_tagger

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
# The bundled ImageNet classifier and a photo of one of its classes (the page's first model).
IMAGE_MODEL = "efficientnet_lite0"
PHOTO = ROOT / "docs" / "examples" / "chelsea.jpg"
PHOTO_TYPE = "image/jpeg"
PHOTO_CLASS = "Egyptian cat"
OTHER_CLASS = "tiger cat"
TEXT_MODEL = "keywords"
# A real text model whose card carries an example (docs/examples/complaint_mortgage.txt).
EXAMPLE_MODEL = "complaints"
EXAMPLE_TEXT = ROOT / "docs" / "examples" / "complaint_mortgage.txt"
# Heads beyond a classifier: the bundled segmenter and detector, and a multilabel tagger
# made from the segmenter in the test (no multilabel model is bundled).
SEG_MODEL = "shapes_seg"
DET_MODEL = "shapes_det"
TAG_MODEL = "shapes_tags"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def require_chromium() -> None:
    problem = None
    if not CHROMIUM.exists():
        problem = f"{CHROMIUM} is missing: apt-get install chromium"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing: pip install -e '.[dev]'"
    if problem and os.environ.get("CI"):
        pytest.fail(f"browser tests need Chromium and Playwright in CI: {problem}")
    if problem:
        pytest.skip(problem)


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def other_origin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    """A plain static file server on another port: another origin than the API's."""
    folder = tmp_path_factory.mktemp("other-origin")
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], folder
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def server(
    tmp_path_factory: pytest.TempPathFactory, other_origin: tuple[int, Path]
) -> Iterator[str]:
    """`python -m app` serving the image and text models; CORS open to the other origin."""
    tmp = tmp_path_factory.mktemp("web-server")
    models = tmp / "models"
    models.mkdir()
    for model in {IMAGE_MODEL, TEXT_MODEL, EXAMPLE_MODEL, SEG_MODEL, DET_MODEL}:
        shutil.copytree(ROOT / "models" / model, models / model)  # no symlinks: the
        # registry refuses files that resolve outside its folder
    write_shapes_tagger(ROOT / "models" / SEG_MODEL / "model.keras", models / TAG_MODEL, TAG_MODEL)
    port = free_port()
    env = os.environ | {
        "GRADCAM_MODELS_DIR": str(models),
        "GRADCAM_HOST": "127.0.0.1",
        "GRADCAM_PORT": str(port),
        "GRADCAM_DEVICE": "/CPU:0",
        "GRADCAM_CORS_ORIGINS": f"http://127.0.0.1:{other_origin[0]}",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": str(ROOT),
    }
    log = (tmp / "server.log").open("w+b")
    process = subprocess.Popen(
        [sys.executable, "-m", "app"], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        wait_until_ready(process, port)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.kill()
        process.wait(timeout=10)
        log.close()


# Module scope: Playwright's sync API keeps an event loop running in this thread while
# it is started, which would break other modules' asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def page(browser: object, server: str) -> Iterator[object]:
    context = browser.new_context(viewport=DESKTOP, base_url=server)  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def curl() -> str:
    path = shutil.which("curl")
    if path is None:
        pytest.skip("curl is not installed")
    return path
