"""Every error, from every layer, is the same application/problem+json shape."""

import pytest

from tests.api.conftest import b64

SHAPES = "/v1/models/shapes:explain"
PNG_HEADER = {"content-type": "image/png"}


def json_body(parameters=None, instances=None):
    body = {"instances": instances or [{"image": {"b64": "AAAA"}}]}
    if parameters is not None:
        body["parameters"] = parameters
    return body


CASES = {
    "unknown route": ("get", "/nowhere", {}, 404),
    "wrong method": ("delete", "/v1/models", {}, 405),
    "unknown model": ("post", "/v1/models/nope:explain", {"json": json_body()}, 404),
    "unknown model detail": ("get", "/v1/models/nope", {}, 404),
    "unsupported media type": (
        "post",
        SHAPES,
        {"content": b"x", "headers": {"content-type": "text/plain"}},
        415,
    ),
    "no content type": ("post", SHAPES, {"content": b"x"}, 415),
    "random bytes as png": ("post", SHAPES, {"content": b"\x00" * 64, "headers": PNG_HEADER}, 400),
    "bad base64": ("post", SHAPES, {"json": json_body(instances=[{"image": {"b64": "***"}}])}, 400),
    "malformed json": (
        "post",
        SHAPES,
        {"content": b"{", "headers": {"content-type": "application/json"}},
        422,
    ),
    "no instances": ("post", SHAPES, {"json": {"instances": []}}, 422),
    "unknown field": ("post", SHAPES, {"json": {"instances": [], "extra": 1}}, 422),
    "unknown parameter": ("post", SHAPES, {"json": json_body({"colour": "red"})}, 422),
    "boolean target": ("post", SHAPES, {"json": json_body({"targets": [True]})}, 422),
    "string target": ("post", SHAPES, {"json": json_body({"targets": ["2"]})}, 422),
    "float target": ("post", SHAPES, {"json": json_body({"targets": [2.0]})}, 422),
    "empty targets": ("post", SHAPES, {"json": json_body({"targets": []})}, 422),
    "alpha out of range": ("post", SHAPES, {"json": json_body({"alpha_limit": 2})}, 422),
    "bad score": ("post", SHAPES, {"json": json_body({"score": "proba"})}, 422),
    "bad overlay format": ("post", SHAPES, {"json": json_body({"overlay_format": "gif"})}, 422),
    "bad interpolation": (
        "post",
        SHAPES,
        {"json": json_body({"interpolation_kind": "spline"})},
        422,
    ),
    "two kinds in one instance": (
        "post",
        SHAPES,
        {"json": json_body(instances=[{"text": "a", "tokens": ["a"]}])},
        422,
    ),
    "doc without tokens": ("post", SHAPES, {"json": json_body(instances=[{"doc": [1]}])}, 422),
    "multipart without image": ("post", SHAPES, {"files": {"targets": (None, "1")}}, 422),
    "url-encoded form": ("post", SHAPES, {"data": {"targets": "1"}}, 415),
    "bad form targets": (
        "post",
        SHAPES,
        {"files": {"image": ("a", b"x")}, "data": {"targets": "a,b"}},
        422,
    ),
    "bad form boolean": (
        "post",
        SHAPES,
        {"files": {"image": ("a", b"x")}, "data": {"relu": "maybe"}},
        422,
    ),
    "unknown form field": (
        "post",
        SHAPES,
        {"files": {"image": ("a", b"x")}, "data": {"colour": "red"}},
        422,
    ),
    "bad query parameter": (
        "post",
        SHAPES,
        {"content": b"x", "headers": PNG_HEADER, "params": {"relu": "2"}},
        422,
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_error_has_the_problem_shape(client, case):
    method, url, kwargs, status = case
    response = getattr(client, method)(url, **kwargs) if method != "delete" else client.delete(url)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert set(problem) >= {"type", "title", "status", "detail"}
    assert problem["status"] == status
    assert problem["title"] and problem["detail"]
    # A relative reference to a page of this service (RFC 9457 section 3.1.1).
    assert problem["type"].startswith("/problems/")
    assert client.get(problem["type"]).status_code == 200


def test_validation_problems_name_the_offending_field(client):
    response = client.post(SHAPES, json=json_body({"targets": [True], "alpha_limit": 5}))
    fields = {error["field"] for error in response.json()["errors"]}
    assert {"parameters.targets.0", "parameters.alpha_limit"} <= fields


def test_nan_and_infinity_are_rejected(client):
    for literal in (b"NaN", b"Infinity", b"-Infinity"):
        body = b'{"instances": [{"image": {"b64": "AAAA"}}], "parameters": {"alpha_limit": %s}}'
        response = client.post(
            SHAPES, content=body % literal, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (literal, response.text)


def test_out_of_range_target_message_names_the_range(client, shape_png):
    body = json_body({"targets": [7]}, [{"image": {"b64": b64(shape_png)}}])
    response = client.post(SHAPES, json=body)
    assert response.status_code == 422
    assert response.json()["detail"] == "target 7 is out of range [0, 4) for model shapes"


def test_unknown_layer_is_a_clear_error(client, shape_png):
    body = json_body({"layer": "nope"}, [{"image": {"b64": b64(shape_png)}}])
    response = client.post(SHAPES, json=body)
    assert response.status_code == 422
    assert "layer 'nope' not found" in response.json()["detail"]


def test_layer_without_spatial_axes_is_refused(client, shape_png):
    body = json_body({"layer": -1}, [{"image": {"b64": b64(shape_png)}}])
    response = client.post(SHAPES, json=body)
    assert response.status_code == 422
    assert "Can not perform Grad-CAM" in response.json()["detail"]


def test_too_large_body_is_413(client):
    response = client.post(
        "/v1/models/keywords:explain",
        content=b"{" + b" " * (1024 * 1024 + 10) + b"}",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == "application/problem+json"
