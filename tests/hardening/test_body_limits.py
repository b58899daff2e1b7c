"""Bodies: capped while they arrive (also chunked), stalls time out, nothing left behind."""

import json

import pytest
from fastapi.testclient import TestClient
from starlette import formparsers

from tests.hardening.asgi import call
from tests.hardening.conftest import KEYWORDS, TINY, assert_problem

MiB = 1024 * 1024
JSON = {"content-type": "application/json"}
PNG = {"content-type": "image/png"}


def text_body(text: str = "goal storm") -> bytes:
    return json.dumps({"instances": [{"text": text}]}).encode()


def test_declared_length_over_the_limit_is_refused_before_reading(client):
    headers = JSON | {"content-length": str(MiB + 1)}
    exchange = call(client, KEYWORDS, headers, [b"{" * 1024])
    assert exchange.status == 413
    assert exchange.bytes_pulled == 0
    assert exchange.headers["content-type"] == "application/problem+json"
    assert exchange.headers["connection"] == "close"


def test_chunked_json_over_the_limit_stops_at_the_limit(client):
    piece = b" " * (256 * 1024)
    exchange = call(client, KEYWORDS, JSON, [b"{", *[piece] * 40, b"}"])  # 10 MiB, chunked
    assert exchange.status == 413, exchange.body
    assert MiB < exchange.bytes_pulled <= MiB + len(piece) + 1  # not one piece past it
    assert exchange.headers["connection"] == "close"
    assert json.loads(exchange.body)["title"] == "Payload too large"


def test_chunked_image_over_the_limit_is_413(client, tiny_png):
    piece = b"\0" * MiB
    exchange = call(client, TINY, PNG, [tiny_png, *[piece] * 12])  # ~12 MiB
    assert exchange.status == 413
    assert exchange.bytes_pulled <= 8 * MiB + MiB + len(tiny_png)


def test_chunked_multipart_over_the_limit_is_413(client, tiny_png):
    head = (
        b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=b"}
    exchange = call(client, TINY, headers, [head, tiny_png, *[b"\0" * MiB] * 10])
    assert exchange.status == 413


def test_an_early_answer_reads_the_rest_of_a_body_within_the_limit(client):
    """An unknown model is known before the body is read; the rest is read and dropped
    (a socket closed on unread data resets the client still sending) and the connection
    stays open."""
    piece = b"\0" * (256 * 1024)
    exchange = call(client, "/v1/models/nope:explain", PNG, [b"\x89PNG", *[piece] * 8])
    assert exchange.status == 404, exchange.body
    assert exchange.bytes_pulled == 4 + 8 * len(piece)
    assert "connection" not in exchange.headers
    assert json.loads(exchange.body)["title"] == "Model not found"


def test_chunked_body_within_the_limit_is_served(client):
    body = text_body()
    exchange = call(client, KEYWORDS, JSON, [body[:5], body[5:20], body[20:]])
    assert exchange.status == 200, exchange.body
    assert json.loads(exchange.body)["model_id"] == "keywords"


def test_the_json_limit_is_for_json_and_the_image_limit_for_images(client):
    over_json = b"\0" * (MiB + 100)  # over 1 MiB, far under 8 MiB
    as_json = client.post(KEYWORDS, content=over_json, headers=JSON)
    assert_problem(as_json, 413)
    as_png = client.post(TINY, content=over_json, headers=PNG)
    assert_problem(as_png, 400)  # read in full, then refused as not an image


def test_limits_come_from_the_settings(make_app):
    with TestClient(make_app(max_json_bytes=2000, max_image_bytes=3000)) as small:
        assert_problem(small.post(KEYWORDS, content=b" " * 2001, headers=JSON), 413)
        assert_problem(small.post(TINY, content=b"\0" * 3001, headers=PNG), 413)
        assert small.post(KEYWORDS, content=text_body(), headers=JSON).status_code == 200


def test_a_stalled_body_times_out_with_408(make_app):
    with TestClient(make_app(body_read_timeout=0.2)) as impatient:
        exchange = call(impatient, KEYWORDS, JSON, [b'{"instances": ', 1.0, b"[]}"])
        assert exchange.status == 408, exchange.body
        assert exchange.headers["connection"] == "close"
        assert json.loads(exchange.body)["title"] == "Request timeout"
        # Pauses shorter than the timeout are fine, however many.
        body = text_body()
        steady = call(impatient, KEYWORDS, JSON, [body[:10], 0.1, body[10:30], 0.1, body[30:]])
        assert steady.status == 200, steady.body


def test_a_client_gone_mid_body_is_no_server_error(client):
    async def gone() -> dict:
        return {"type": "http.disconnect"}

    statuses = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    scope = {
        "type": "http",
        "method": "POST",
        "path": KEYWORDS,
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "query_string": b"",
    }
    client.portal.call(client.app, scope, gone, send)
    assert statuses and statuses[0] < 500


@pytest.fixture
def spooled_files(monkeypatch) -> list:
    """Every temporary file the multipart parser opens, with the most bytes written."""
    opened: list = []
    original = formparsers.SpooledTemporaryFile

    class Recording(original):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.written = 0
            opened.append(self)

        def write(self, data):
            self.written += len(data)
            return super().write(data)

    monkeypatch.setattr(formparsers, "SpooledTemporaryFile", Recording)
    return opened


def test_temp_files_are_closed_and_never_hold_more_than_the_limit(client, tiny_png, spooled_files):
    served = client.post(TINY, files={"image": ("a.png", tiny_png, "image/png")})
    assert served.status_code == 200, served.text
    broken = client.post(TINY, files={"image": ("a.png", b"not an image", "image/png")})
    assert_problem(broken, 400)
    refused = client.post(
        TINY, files={"image": ("a.png", tiny_png, "image/png")}, data={"colour": "red"}
    )
    assert_problem(refused, 422)
    huge = client.post(TINY, files={"image": ("a.png", b"\0" * (9 * MiB), "image/png")})
    assert_problem(huge, 413)
    assert len(spooled_files) == 3  # the 413 never reached the parser
    assert all(f.closed for f in spooled_files)
    assert max(f.written for f in spooled_files) <= 8 * MiB


def form(parts: list[tuple[str | None, str | None, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart body by hand: (name, filename, content) per part; None leaves it out."""
    body = b""
    for name, filename, content in parts:
        disposition = "form-data"
        disposition += f'; name="{name}"' if name is not None else ""
        disposition += f'; filename="{filename}"' if filename is not None else ""
        body += f"--XyZ\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + content + b"\r\n"
    return body + b"--XyZ--\r\n", {"content-type": "multipart/form-data; boundary=XyZ"}


MULTIPART_CASES = {
    "two files": ([("image", "a.png", b"x"), ("image", "b.png", b"y")], 422, "Too many files"),
    "17 fields": (
        [("image", "a.png", b"x")] + [(f"f{i}", None, b"1") for i in range(17)],
        422,
        "Too many fields",
    ),
    "field over 64 KiB": (
        [("image", "a.png", b"x"), ("layer", None, b"c" * (64 * 1024 + 1))],
        413,
        "larger than 65536 bytes",
    ),
    "text over 64 KiB": ([("text", None, b"goal " * 13108)], 413, "larger than 65536"),
    "part without a name": ([(None, None, b"x")], 400, "malformed"),
    "a file under another name": ([("photo", "a.png", b"x")], 422, "only the `image` field"),
}


@pytest.mark.parametrize("case", MULTIPART_CASES.values(), ids=MULTIPART_CASES.keys())
def test_multipart_limits_are_problems_not_server_errors(client, case):
    parts, status, message = case
    body, headers = form(parts)
    problem = assert_problem(client.post(TINY, content=body, headers=headers), status)
    assert message in problem["detail"]


def test_sixteen_fields_are_accepted(client, tiny_png):
    fields = [("relu", None, b"true")] * 16
    body, headers = form([("image", "a.png", tiny_png), *fields])
    assert client.post(TINY, content=body, headers=headers).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["multipart/form-data", "multipart/form-data; boundary=", "multipart/form-data; boundary=a"],
)
def test_malformed_multipart_is_400(client, content_type):
    response = client.post(
        TINY, content=b"garbage\r\n--x--", headers={"content-type": content_type}
    )
    assert response.status_code in (400, 422), response.text
    assert response.headers["content-type"] == "application/problem+json"
