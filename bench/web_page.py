"""The page at / in Chromium on loopback: its weight and the time to a first explanation.

    python -m bench.web_page [--model efficientnet_lite0] [--repeats 5]

Starts the real server (python -m app) and Debian's Chromium (/usr/bin/chromium,
headless, via Playwright). Prints the bytes of the page's files as served, then for
fresh page loads (new browser context each time, so nothing is cached): navigation
start -> models listed and the first model's details in (the page is usable), and a
640x480 JPEG chosen -> the overlay drawn and the predictions listed; medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import httpx

from app.api.routes.web import WEB_FILES
from bench.http_load import free_port, start_server, test_image

CHROMIUM = "/usr/bin/chromium"


def page_weight(base: str) -> dict[str, int]:
    paths = ["/", *(f"/web/{name}" for name in WEB_FILES if name != "index.html")]
    return {path: len(httpx.get(base + path).content) for path in paths}


# Polled on every animation frame; the value is the page's own clock (ms since navigation).
MODEL_SHOWN = """model => document.getElementById("model").value === model
    && document.getElementById("model-description").textContent !== "" && performance.now()"""
EXPLAINED = """() => document.getElementById("overlay").dataset.target !== undefined
    && !document.getElementById("result-details").hidden && performance.now()"""


NAVIGATION = """(() => { const n = performance.getEntriesByType("navigation")[0];
    return [n.responseStart, n.domContentLoadedEventEnd]; })()"""


def first_explanations(base: str, model: str, photo: Path, repeats: int) -> list[tuple[float, ...]]:
    """In ms: navigation start -> usable, photo chosen -> explained, the page's 'Time',
    navigation start -> the HTML's first byte, -> DOMContentLoaded (modules run)."""
    from playwright.sync_api import sync_playwright

    runs = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        for _ in range(repeats + 1):  # the first load warms the server's caches
            context = browser.new_context(base_url=base)
            page = context.new_page()
            page.goto("/", wait_until="commit")
            page.wait_for_function(
                "() => document.getElementById('model-description').textContent !== ''",
                polling="raf",
            )
            page.get_by_test_id("model-select").select_option(model)
            usable = page.wait_for_function(MODEL_SHOWN, arg=model, polling="raf").json_value()
            chosen = page.evaluate("performance.now()")
            page.get_by_test_id("file-input").set_input_files(photo)
            explained = page.wait_for_function(EXPLAINED, polling="raf").json_value()
            elapsed = int(page.get_by_test_id("elapsed").inner_text().split()[0])
            loaded = page.evaluate(NAVIGATION)
            runs.append((usable, explained - chosen, elapsed, *loaded))
            context.close()
        browser.close()
    return runs[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    port = free_port()
    server = start_server(port, {})
    base = f"http://127.0.0.1:{port}"
    try:
        weight = page_weight(base)
        print("page weight (bytes as served, uncompressed):")
        for path, size in weight.items():
            print(f"  {path:16s} {size:7d}")
        print(f"  {'total':16s} {sum(weight.values()):7d}")
        with tempfile.TemporaryDirectory() as folder:
            photo = Path(folder) / "photo.jpg"
            photo.write_bytes(test_image())
            runs = first_explanations(base, args.model, photo, args.repeats)
        usable, explained, elapsed, first_byte, dom_loaded = (
            statistics.median(values) for values in zip(*runs, strict=True)
        )
        print(f"\n{args.model}, 640x480 JPEG, fresh page each time, median of {len(runs)}:")
        print(f"  navigation start -> the HTML's first byte: {first_byte:.0f} ms")
        print(f"  navigation start -> DOMContentLoaded (the modules have run): {dom_loaded:.0f} ms")
        print(f"  navigation -> page usable (models and the model's details in): {usable:.0f} ms")
        print(f"  photo chosen -> overlay drawn and predictions listed: {explained:.0f} ms")
        print(
            f"    of which the explain call as the page measures it (its 'Time'): {elapsed:.0f} ms"
        )
        print(f"  time to first explanation (sum): {usable + explained:.0f} ms")
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
