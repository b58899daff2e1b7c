"""Retries, timeouts, connection errors and what goes on the wire, against a stub
server whose answers each test scripts (503s on cue, slow answers)."""

from __future__ import annotations

import json
import socket
import time
from email.utils import formatdate

import httpx
import pytest
from gradcam_client import Client, ProblemError, Timeout, TransportError
from gradcam_client.protocol import RetryPolicy, retry_after

MODELS = json.dumps({"models": [{"id": "m", "version": "1", "task": "image", "ready": True}]})
OK = (200, {"content-type": "application/json"}, MODELS.encode())
OVERLOADED = json.dumps(
    {"type": "https://x/overloaded", "title": "Overloaded", "status": 503, "detail": "busy"}
).encode()


def refused(after: str | None) -> tuple[int, dict[str, str], bytes]:
    headers = {"content-type": "application/problem+json"}
    if after is not None:
        headers["retry-after"] = after
    return 503, headers, OVERLOADED


def test_a_503_is_retried_after_its_retry_after(stub):
    url, script = stub
    script.answers = [refused("1"), refused("0"), OK]
    with Client(url, retries=3) as client:
        assert [m.id for m in client.models()] == ["m"]
    assert len(script.arrivals) == 3
    assert script.arrivals[1] - script.arrivals[0] >= 0.95  # waited the second it was told


def test_retries_are_bounded_then_the_503_is_raised(stub):
    url, script = stub
    script.answers = [refused("0")]
    with Client(url, retries=2) as client, pytest.raises(ProblemError) as caught:
        client.models()
    assert len(script.arrivals) == 3  # the first attempt and 2 retries
    assert caught.value.status == 503 and caught.value.title == "Overloaded"
    assert caught.value.retry_after == 0.0


def test_no_retries_raises_the_first_503(stub):
    url, script = stub
    script.answers = [refused("1"), OK]
    with Client(url, retries=0) as client, pytest.raises(ProblemError):
        client.models()
    assert len(script.arrivals) == 1


def test_a_long_retry_after_is_capped_by_max_retry_wait(stub):
    url, script = stub
    script.answers = [refused("3600"), OK]
    started = time.monotonic()
    with Client(url, retries=1, max_retry_wait=0.2) as client:
        client.models()
    assert len(script.arrivals) == 2
    assert time.monotonic() - started < 60  # not the hour the server asked for


def test_other_errors_are_not_retried(stub):
    url, script = stub
    script.answers = [(500, {"content-type": "text/plain"}, b"boom"), OK]
    with Client(url, retries=3) as client, pytest.raises(ProblemError) as caught:
        client.models()
    assert len(script.arrivals) == 1
    assert caught.value.status == 500 and caught.value.detail == "boom"  # not problem+json


def test_retry_after_reads_seconds_and_http_dates():
    def response(value: str) -> httpx.Response:
        return httpx.Response(503, headers={"retry-after": value})

    assert retry_after(response("7")) == 7.0
    in_ten = retry_after(response(formatdate(time.time() + 10, usegmt=True)))
    assert in_ten is not None and 8.0 <= in_ten <= 10.0
    assert retry_after(response("soon")) is None
    policy = RetryPolicy(retries=2, max_wait=5.0, default_wait=0.5)
    assert policy.wait_before_retry(httpx.Response(503), 0) == 0.5
    assert policy.wait_before_retry(response("60"), 1) == 5.0
    assert policy.wait_before_retry(response("1"), 2) is None
    assert policy.wait_before_retry(httpx.Response(502), 0) is None


def test_a_slow_answer_raises_timeout(stub):
    url, script = stub
    script.answers, script.delay = [OK], 2.0
    with Client(url, timeout=0.3, retries=0) as client, pytest.raises(Timeout) as caught:
        client.models()
    assert "GET" in str(caught.value) and "/v1/models" in str(caught.value)


def test_no_service_raises_transport_error():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        Client(f"http://127.0.0.1:{port}", timeout=2) as client,
        pytest.raises(TransportError) as caught,
    ):
        client.models()
    assert not isinstance(caught.value, Timeout)


def test_api_key_is_sent_as_bearer_token(stub):
    url, script = stub
    script.answers = [OK]
    with Client(url, api_key="s3cret-key") as client:
        client.models()
    assert script.headers[0]["authorization"] == "Bearer s3cret-key"


def explain_answer() -> tuple[int, dict[str, str], bytes]:
    body = {
        "model_id": "m",
        "model_version": "1",
        "method": "gradcam++",
        "layer": "conv",
        "predictions": [[0.1, 0.9]],
        "metrics": {"deletion": 0.25},
        "explanations": [
            {
                "targets": [
                    {
                        "target": 1,
                        "label": None,
                        "score": 0.9,
                        "scale": 2.0,
                        "heatmap": [[0.0, 1.0], [0.5, 0.25]],
                        "metrics": {"insertion": 0.75},
                    }
                ]
            }
        ],
    }
    return 200, {"content-type": "application/json"}, json.dumps(body).encode()


def model_answer() -> tuple[int, dict[str, str], bytes]:
    body = {"id": "m", "version": "1", "task": "image", "ready": True, "n_classes": 2}
    body |= {"input_shape": [None, 2, 2, 3], "labels": ["a", "b"], "default_layer": "conv"}
    return 200, {"content-type": "application/json"}, json.dumps(body).encode()


def test_only_set_options_are_sent_and_new_ones_pass_through(stub):
    url, script = stub
    script.answers = [explain_answer(), model_answer(), explain_answer()]
    with Client(url) as client:
        result = client.explain_image(
            "m", b"\x89PNG", method="gradcam++", metrics=["deletion"], overlay="layer"
        )
        client.explain_image("m", b"\x89PNG", max_channels=8)
    sent = [json.loads(body) for body in script.bodies]
    assert sent[0]["parameters"] == {
        "method": "gradcam++",
        "metrics": ["deletion"],
        "overlay": "layer",
    }
    assert sent[1]["parameters"] == {"max_channels": 8}
    assert result.method == "gradcam++" and result.metrics == {"deletion": 0.25}
    target = result.explanation.targets[0]
    assert target.metrics == {"insertion": 0.75} and target.heatmap.shape == (2, 2)
    assert result.top_k(1)[0].label == "b"  # the labels come from the model's card, once
    assert len(script.bodies) == 2 and len(script.arrivals) == 3


def test_text_instances_on_the_wire(stub):
    url, script = stub
    script.answers = [explain_answer(), model_answer(), explain_answer()]
    with Client(url) as client:
        client.explain_text("m", ids=[3, 4, 5])
        client.explain_text("m", text=["one text", "another"])
        client.explain_text("m", tokens=["a", "b"], ids=[7, 8])
        with pytest.raises(ValueError):
            client.explain_text("m")
    instances = [json.loads(body)["instances"] for body in script.bodies]
    assert instances == [
        [{"ids": [3, 4, 5]}],
        [{"text": "one text"}, {"text": "another"}],
        [{"tokens": ["a", "b"], "doc": [7, 8]}],
    ]


def test_one_large_image_goes_raw_with_its_options_in_the_query(stub):
    url, script = stub
    script.answers = [explain_answer(), model_answer()]
    large = b"\xff\xd8\xff\xe0" + bytes(600 * 1024)  # a JPEG by its first bytes
    with Client(url) as client:
        client.explain_image(
            "m", large, targets=[0, 2], overlay=False, metrics=["deletion", "insertion"]
        )
    assert script.bodies[0] == large
    headers = script.headers[0]
    assert headers["content-type"] == "image/jpeg"
    assert script.paths[0] == (
        "/v1/models/m:explain?targets=0%2C2&overlay=false&metrics=deletion%2Cinsertion"
    )


def test_several_layers_and_method_options_on_the_wire(stub):
    url, script = stub
    script.answers = [explain_answer(), model_answer(), explain_answer()]
    large = b"\xff\xd8\xff\xe0" + bytes(600 * 1024)
    with Client(url) as client:
        client.explain_image("m", b"\x89PNG", layer=["conv3", "last_conv"], aug_smooth=True)
        client.explain_image("m", large, method="finercam", finer_comparison=[1, 2])
    assert json.loads(script.bodies[0])["parameters"] == {
        "layer": ["conv3", "last_conv"],
        "aug_smooth": True,
    }
    assert script.paths[-1] == "/v1/models/m:explain?finer_comparison=1%2C2&method=finercam"
