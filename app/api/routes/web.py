"""GET / and /web/*: the page, a few static files from app/web/ (no build step).

The files are read once, when the app is built, and answered from memory with
their own strict Content-Security-Policy: the page loads nothing from another
host and runs no inline script, so a stray string from the API cannot run as code.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, FastAPI, Response

from app.errors import NotFound

WEB_FILES = {
    "index.html": "text/html; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "api.js": "text/javascript; charset=utf-8",
    "view.js": "text/javascript; charset=utf-8",
    "regions.js": "text/javascript; charset=utf-8",
    "marks.js": "text/javascript; charset=utf-8",
    "answers.js": "text/javascript; charset=utf-8",
}
# data: and blob: images: the chosen photo (object URL) and the overlays (data URLs).
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",  # revalidate: a new release must not run stale code
}
# Paths anyone may fetch even when API keys are on: static files that hold no data.
PUBLIC_PATHS = ("/", *(f"/web/{name}" for name in WEB_FILES))


def read_web_files() -> dict[str, bytes]:
    folder = files("app") / "web"
    return {name: (folder / name).read_bytes() for name in WEB_FILES}


def add_web_routes(app: FastAPI) -> None:
    """Serve the page at / and its files at /web/<name>."""
    contents = read_web_files()
    router = APIRouter(include_in_schema=False)

    def answer(name: str) -> Response:
        return Response(contents[name], media_type=WEB_FILES[name], headers=HEADERS)

    @router.get("/")
    def page() -> Response:
        return answer("index.html")

    @router.get("/web/{name}")
    def web_file(name: str) -> Response:
        if name not in contents:
            raise NotFound(f"no file {name!r} in the page's files")
        return answer(name)

    app.include_router(router)
