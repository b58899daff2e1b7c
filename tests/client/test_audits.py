"""Audits from the Python clients: `audit`, `job`, `wait_for_job`, `cancel_job` and
`audit_report`, the same in `Client` and `AsyncClient` (awaited, polling with
`asyncio.sleep`): against the live server, and against the stub for the polling itself."""

from __future__ import annotations

import asyncio
import inspect
import json

import pytest
from gradcam_client import AsyncClient, Client, ProblemError
from gradcam_client.audits import audit_instance

from training.shapes_data import make_shapes

JSON = {"content-type": "application/json"}


def instances(count: int = 3, seed: int = 27_270) -> list[dict]:
    images, labels, boxes = make_shapes(count, seed=seed)
    return [
        audit_instance(image, int(label), box=box.tolist(), name=f"scene{index}")
        for index, (image, label, box) in enumerate(zip(images, labels, boxes, strict=True))
    ]


def job_state(status: str, done: int, total: int = 3) -> tuple[int, dict[str, str], bytes]:
    body = {"id": "abc", "kind": "audit", "model": "shapes", "version": "1", "status": status,
            "progress": {"done": done, "total": total}, "result": None, "error": None,
            "report": None}  # fmt: skip
    return 200, JSON, json.dumps(body).encode()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_both_clients_run_an_audit_to_the_same_result_and_report(server_url: str):
    sent = instances()
    checks = ["pointing", "energy-pointing", "random-logit"]
    with Client(server_url) as client:
        sync_job = client.audit("shapes", sent, methods=["gradcam"], checks=checks, seed=3)
        sync_state = client.wait_for_job(sync_job, poll=0.05, timeout=120)
        sync_report = client.audit_report(sync_job)

    async def audit() -> tuple[str, dict, list[tuple[int, int]], str, dict]:
        seen: list[tuple[int, int]] = []
        async with AsyncClient(server_url) as client:
            job = await client.audit("shapes", sent, methods=["gradcam"], checks=checks, seed=3)
            state = await client.wait_for_job(
                job, poll=0.05, timeout=120, on_progress=lambda d, t: seen.append((d, t))
            )
            report = await client.audit_report(job)
            again = await client.cancel_job(job)  # a finished job is left as it is
        return job, state, seen, report, again

    job, state, seen, report, again = asyncio.run(audit())
    assert job.startswith("/v1/jobs/") and job != sync_job
    assert state["status"] == sync_state["status"] == "done"
    assert state["progress"] == {"done": 6, "total": 6}  # 3 maps + 3 random-logit maps
    assert seen[-1] == (6, 6)
    ours, theirs = state["result"]["methods"]["gradcam"], sync_state["result"]["methods"]["gradcam"]
    for key in ("pointing", "energy_pointing"):
        assert ours[key] == pytest.approx(theirs[key], abs=1e-6)
    assert ours["random_logit"]["ssim"] == pytest.approx(theirs["random_logit"]["ssim"], abs=1e-6)
    assert state["result"]["instances"] == 3
    for page in (report, sync_report):
        assert page.lower().startswith("<!doctype html>") and "gradcam" in page
    assert again["status"] == "done"


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_problems_are_raised_by_both_clients(server_url: str):
    bad = instances(2)
    bad[1]["label"] = 9

    async def calls() -> tuple[ProblemError, ProblemError]:
        async with AsyncClient(server_url) as client:
            with pytest.raises(ProblemError) as refused:
                await client.audit("shapes", bad)
            with pytest.raises(ProblemError) as unknown:
                await client.job("nope")
        return refused.value, unknown.value

    refused, unknown = asyncio.run(calls())
    assert refused.status == 422 and "instances[1].label 9" in refused.detail
    assert unknown.status == 404
    with Client(server_url) as client, pytest.raises(ProblemError) as sync_refused:
        client.audit("shapes", bad)
    assert sync_refused.value.status == 422 and sync_refused.value.detail == refused.detail


def test_async_wait_polls_with_asyncio_sleep_and_reports_progress(stub, monkeypatch):
    url, script = stub
    script.answers = [
        (202, {**JSON, "location": "/v1/jobs/abc"}, b'{"job": "/v1/jobs/abc"}'),
        job_state("queued", 0),
        job_state("running", 1),
        job_state("running", 2),
        job_state("done", 3),
    ]
    slept: list[float] = []
    real_sleep = asyncio.sleep

    async def recorded_sleep(seconds: float) -> None:
        slept.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr(asyncio, "sleep", recorded_sleep)
    seen: list[tuple[int, int]] = []

    async def on_progress(done: int, total: int) -> None:  # a coroutine function is awaited
        seen.append((done, total))

    async def audit() -> tuple[str, dict]:
        async with AsyncClient(url) as client:
            job = await client.audit("shapes", instances(1), checks=["pointing"])
            return job, await client.wait_for_job(job, poll=0.25, on_progress=on_progress)

    job, state = asyncio.run(audit())
    assert job == "/v1/jobs/abc" and state["status"] == "done"
    assert seen == [(0, 3), (1, 3), (2, 3), (3, 3)]
    assert slept == [0.25, 0.25, 0.25]  # between the four polls, none after the last
    assert script.methods == ["POST", "GET", "GET", "GET", "GET"]
    assert script.paths == ["/v1/models/shapes:audit", *["/v1/jobs/abc"] * 4]
    body = json.loads(script.bodies[0])
    assert body["parameters"] == {"checks": ["pointing"]}  # methods not sent: the default
    assert body["instances"][0]["box"] and body["instances"][0]["label"] >= 0


def test_async_cancel_by_id_or_path_and_timeout(stub):
    url, script = stub
    script.answers = [job_state("cancelled", 1), job_state("cancelled", 1), job_state("running", 1)]

    async def calls() -> tuple[dict, dict]:
        async with AsyncClient(url) as client:
            by_id = await client.cancel_job("abc")
            by_path = await client.cancel_job("/v1/jobs/abc")
            with pytest.raises(TimeoutError, match="still running"):
                await client.wait_for_job("abc", poll=0.01, timeout=0.05)
            return by_id, by_path

    by_id, by_path = asyncio.run(calls())
    assert by_id["status"] == by_path["status"] == "cancelled"
    assert script.methods[:2] == ["DELETE", "DELETE"]
    assert script.paths[:2] == ["/v1/jobs/abc", "/v1/jobs/abc"]
    assert set(script.methods[2:]) == {"GET"}


def test_async_report_is_text_not_json(stub):
    url, script = stub
    page = b"<!doctype html><html><body>report</body></html>"
    script.answers = [(200, {"content-type": "text/html; charset=utf-8"}, page)]

    async def report() -> str:
        async with AsyncClient(url) as client:
            return await client.audit_report("abc")

    assert asyncio.run(report()) == page.decode()
    assert script.paths == ["/v1/jobs/abc/report"]


def test_the_clients_have_the_same_audit_methods():
    names = ("audit", "job", "wait_for_job", "cancel_job", "audit_report")
    for name in names:
        assert asyncio.iscoroutinefunction(getattr(AsyncClient, name)), name
        sync = inspect.signature(getattr(Client, name))
        both = inspect.signature(getattr(AsyncClient, name))
        assert list(sync.parameters) == list(both.parameters), name
