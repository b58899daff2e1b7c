"""Draw `docs/examples/complaint_mortgage.png`: the service's `html` answer for the
example complaint, rendered by headless Chromium (Debian's /usr/bin/chromium).

The request goes through the app (its lifespan, routes and renderers) on a models folder
holding only `complaints`; the picture is the answer's highlighted HTML as it is, under a
caption with the model's answer.

    python -m training.complaint_picture [--out docs/examples/complaint_mortgage.png]
"""

from __future__ import annotations

import argparse
import html
import shutil
import sys
import tempfile
from pathlib import Path

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "docs" / "examples" / "complaint_mortgage.txt"
MODEL = "complaints"
CHROMIUM = "/usr/bin/chromium"
WIDTH = 820  # CSS pixels of the text column; the picture is drawn at twice that

PAGE = """<!doctype html><meta charset="utf-8">
<body style="margin:0;background:#fff">
<figure id="figure" style="margin:0;padding:16px 20px;width:{width}px;font:15px/1.5 sans-serif">
<figcaption style="margin:0 0 10px;color:#333">{caption}</figcaption>
<div style="font:14px/1.6 ui-monospace,monospace;white-space:pre-wrap;border:1px solid #ccc;
border-radius:4px;padding:10px 12px">{highlighted}</div>
</figure>"""


def explain_example(text: str) -> dict:
    """POST the text to /v1/models/complaints:explain, as curl would (JSON)."""
    with tempfile.TemporaryDirectory() as folder:
        models = Path(folder) / "models"
        shutil.copytree(ROOT / "models" / MODEL, models / MODEL)
        app = create_app(Settings(models_dir=models, _env_file=None))
        with TestClient(app) as client:
            response = client.post(
                f"/v1/models/{MODEL}:explain", json={"instances": [{"text": text}]}
            )
    response.raise_for_status()
    return dict(response.json())


def page_html(answer: dict) -> str:
    target = answer["explanations"][0]["targets"][0]
    caption = (
        f"<b>{MODEL}</b> → {html.escape(target['label'])} ({target['score']:.1%}); "
        f"{answer['method']}, layer {html.escape(answer['layer'])}; green: evidence for the class"
    )
    return PAGE.format(width=WIDTH, caption=caption, highlighted=target["html"])


def screenshot(document: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            page = browser.new_page(
                viewport={"width": WIDTH + 60, "height": 400}, device_scale_factor=2
            )
            page.set_content(document)
            page.locator("#figure").screenshot(path=str(out))
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=EXAMPLE.with_suffix(".png"))
    args = parser.parse_args(argv)
    answer = explain_example(EXAMPLE.read_text(encoding="utf-8"))
    screenshot(page_html(answer), args.out)
    target = answer["explanations"][0]["targets"][0]
    print(f"{args.out}: {target['label']} {target['score']:.4f}, layer {answer['layer']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
