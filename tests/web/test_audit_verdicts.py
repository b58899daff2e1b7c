"""The page shows a model's randomisation verdicts and links the audit's report, once an
audit of the served version has finished (a text audit: the keywords model is fast)."""

import time

import httpx
from playwright.sync_api import expect

from tests.web.conftest import TEXT_MODEL

TEXTS = ["sahom goal vasho", "the stock market fell", "storm and rain", "a new song"]
DEADLINE = 120.0


def finished_audit(server: str) -> dict:
    body = {
        "instances": [{"text": text, "label": i} for i, text in enumerate(TEXTS)],
        "parameters": {"methods": ["gradcam", "eigencam"], "checks": ["randomization"]},
    }
    answer = httpx.post(f"{server}/v1/models/{TEXT_MODEL}:audit", json=body, timeout=30)
    assert answer.status_code == 202, answer.text
    end = time.monotonic() + DEADLINE
    while True:
        job = httpx.get(f"{server}{answer.headers['location']}", timeout=30).json()
        if job["status"] not in ("queued", "running"):
            assert job["status"] == "done", job
            return job
        assert time.monotonic() < end, "the audit did not finish in time"
        time.sleep(0.2)


def test_the_verdicts_and_the_report_link(page, server, screenshots):
    job = finished_audit(server)
    page.goto("/")
    expect(page.locator("#model-description")).not_to_be_empty()
    page.get_by_test_id("model-select").select_option(TEXT_MODEL)
    verdicts = page.get_by_test_id("model-verdicts")
    expect(verdicts).to_be_visible()
    for method in ("gradcam", "eigencam"):
        passed = job["result"]["methods"][method]["randomization"]["passed"]
        expect(verdicts).to_contain_text(f"{method} {'passed' if passed else 'failed'}")
    page.screenshot(path=screenshots / "10-audit-verdicts.png", full_page=True)
    with page.expect_navigation():
        verdicts.get_by_role("link").first.click()
    expect(page.locator("h1")).to_contain_text(f"Audit of {TEXT_MODEL}")
    page.screenshot(path=screenshots / "11-audit-report.png", full_page=True)
