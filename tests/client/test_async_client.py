"""AsyncClient: the same surface as Client, against the live server and the stub."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from gradcam_client import AsyncClient, Client, ProblemError, Timeout

from tests.client.test_transport import OK, refused
from tests.live_server import shape_sample

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

PNG, DRAWN = shape_sample(seed=21)


def run(coroutine):
    return asyncio.run(coroutine)


def test_models_and_model(server_url: str):
    async def calls():
        async with AsyncClient(server_url) as client:
            return await client.models(), await client.model("keywords")

    models, keywords = run(calls())
    assert {m.id for m in models} == {"shapes", "keywords"}
    assert keywords.task == "text" and keywords.input_shape == (None, 48)


def test_explain_image_matches_the_sync_client(server_url: str):
    async def explain():
        async with AsyncClient(server_url) as client:
            return await asyncio.gather(
                client.explain_image("shapes", PNG, targets=[DRAWN]),
                client.explain_image("shapes", [PNG, PNG], overlay=False),
            )

    one, two = run(explain())
    with Client(server_url) as client:
        reference = client.explain_image("shapes", PNG, targets=[DRAWN])
    np.testing.assert_allclose(one.predictions, reference.predictions, atol=1e-5)
    np.testing.assert_allclose(
        one.explanation.targets[0].heatmap, reference.explanation.targets[0].heatmap, atol=1e-5
    )
    assert one.explanation.targets[0].overlay.size == (64, 64)
    assert one.top_k(1)[0].index == DRAWN
    assert len(two.explanations) == 2 and two.explanations[1].targets[0].overlay is None


def test_explain_text(server_url: str):
    async def explain():
        async with AsyncClient(server_url) as client:
            return await client.explain_text("keywords", text="storm vasho goal", targets=[0, 1])

    result = run(explain())
    assert result.explanation.tokens == ["storm", "vasho", "goal"]
    assert [t.target for t in result.explanation.targets] == [0, 1]
    assert all(t.label == result.labels[t.target] for t in result.explanation.targets)


def test_errors_are_problems(server_url: str):
    async def explain():
        async with AsyncClient(server_url) as client:
            await client.explain_image("shapes", PNG, targets=[4])

    with pytest.raises(ProblemError) as caught:
        run(explain())
    assert caught.value.status == 422


def test_a_503_is_retried(stub):
    url, script = stub
    script.answers = [refused("0"), refused(None), OK]

    async def models():
        async with AsyncClient(url, retries=2) as client:
            return await client.models()

    assert [m.id for m in run(models())] == ["m"]
    assert len(script.arrivals) == 3


def test_a_slow_answer_raises_timeout(stub):
    url, script = stub
    script.answers, script.delay = [OK], 2.0

    async def models():
        async with AsyncClient(url, timeout=0.3, retries=0) as client:
            return await client.models()

    with pytest.raises(Timeout):
        run(models())
