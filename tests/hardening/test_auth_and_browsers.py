"""API keys (before the body is read, constant-time), CORS preflights, docs switched off."""

import hmac

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from app.api import security
from app.settings import Settings
from tests.hardening.asgi import call
from tests.hardening.conftest import KEYWORDS, assert_problem

KEY = "k3y-for-tests_0123456789"
OTHER_KEY = "another-key-from-the-file"
BODY = {"instances": [{"text": "goal"}]}
ORIGIN = "https://app.example"


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("keys") / "keys.txt"
    path.write_text(f"# rotated 2026-01\n\n  {OTHER_KEY}  \n")
    return path


@pytest.fixture(scope="module")
def guarded(make_app, key_file):
    app = make_app(api_keys=[KEY], api_keys_file=key_file, cors_origins=[ORIGIN])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.mark.parametrize(
    "headers",
    [
        {"authorization": f"Bearer {KEY}"},
        {"authorization": f"bearer   {KEY}"},
        {"x-api-key": KEY},
        {"x-api-key": OTHER_KEY},  # from the key file
        {"authorization": "Basic Zm9vOmJhcg==", "x-api-key": KEY},
        {"authorization": f"Bearer {OTHER_KEY}", "x-api-key": KEY},
    ],
    ids=["bearer", "lower-case scheme", "x-api-key", "from the file", "other scheme", "two keys"],
)
def test_a_valid_key_lets_the_request_in(guarded, headers):
    response = guarded.post(KEYWORDS, json=BODY, headers=headers)
    assert response.status_code == 200, response.text[:500]


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({}, "needs an API key"),
        ({"authorization": "Bearer wrong"}, "not valid"),
        ({"authorization": f"Basic {KEY}"}, "needs an API key"),
        ({"authorization": KEY}, "needs an API key"),
        ({"x-api-key": KEY[:-1]}, "not valid"),
        ({"x-api-key": KEY + "x"}, "not valid"),
        ({"authorization": "Bearer "}, "needs an API key"),
        ({"authorization": "Bearer wrong", "x-api-key": KEY}, "not valid"),
    ],
    ids=[
        "none",
        "wrong",
        "basic scheme",
        "no scheme",
        "prefix",
        "longer",
        "empty bearer",
        "a wrong key next to a good one",
    ],
)
def test_a_missing_or_wrong_key_is_401(guarded, headers, detail):
    response = guarded.post(KEYWORDS, json=BODY, headers=headers)
    problem = assert_problem(response, 401)
    assert detail in problem["detail"]
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/models"),
        ("get", "/v1/models/keywords"),
        ("get", "/openapi.json"),
        ("get", "/docs"),
        ("get", "/metrics"),
        ("get", "/nowhere"),
        ("delete", "/v1/models"),
    ],
)
def test_every_route_but_health_is_guarded(guarded, method, path):
    assert_problem(guarded.request(method, path), 401)
    assert guarded.request(method, path, headers={"x-api-key": KEY}).status_code != 401


@pytest.mark.parametrize(
    "path", ["/v2/health/live", "/v2/health/ready", "/v2/models/keywords/ready"]
)
def test_health_needs_no_key(guarded, path):
    assert guarded.get(path).status_code == 200


def test_the_key_is_checked_before_the_body_is_read(guarded):
    headers = {"content-type": "application/json", "content-length": str(10 * 2**30)}
    exchange = call(guarded, KEYWORDS, headers, [b"{" * 4096] * 4)
    assert exchange.status == 401  # not 413: nothing about the body was looked at
    assert exchange.bytes_pulled == 0
    assert exchange.headers["connection"] == "close"  # the unread body is not drained
    chunked = call(guarded, KEYWORDS, {"content-type": "application/json"}, [b"{", b"}"])
    assert chunked.status == 401 and chunked.bytes_pulled == 0


def test_keys_are_compared_in_constant_time(guarded, monkeypatch):
    compared = []
    compare_digest = hmac.compare_digest

    def recording(a, b):
        compared.append((len(a), len(b)))
        return compare_digest(a, b)

    monkeypatch.setattr(security.hmac, "compare_digest", recording)
    assert_problem(guarded.get("/v1/models", headers={"x-api-key": "x"}), 401)
    assert guarded.get("/v1/models", headers={"x-api-key": KEY}).status_code == 200
    # Every known key is compared every time (no early exit, the matching key first),
    # as equal-length digests (no length leak).
    assert compared == [(32, 32)] * 4


def test_the_openapi_document_names_the_schemes_and_401(guarded):
    document = guarded.get("/openapi.json", headers={"x-api-key": KEY}).json()
    assert set(document["components"]["securitySchemes"]) == {"bearerKey", "headerKey"}
    explain = document["paths"]["/v1/models/{model_id}:explain"]["post"]
    assert "401" in explain["responses"] and explain["security"]
    assert "security" not in document["paths"]["/v2/health/ready"]["get"]


def test_without_keys_the_service_is_open_and_documents_no_scheme(client):
    assert client.get("/v1/models").status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json()["components"]


@pytest.mark.parametrize(
    "content",
    ["", "# only a comment\n\n", "key with space\n", "ключ\n"],
    ids=["empty", "comments only", "space", "not ascii"],
)
def test_a_key_file_without_usable_keys_stops_start_up(make_app, tmp_path, content):
    path = tmp_path / "keys.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ValueError, match="GRADCAM_API_KEYS_FILE"):
        make_app(api_keys_file=path)


def test_bad_keys_in_settings_stop_start_up_without_echoing_them(tmp_path):
    with pytest.raises(ValidationError) as caught:
        Settings(api_keys="good-key,bad key\tSECRET-PART", _env_file=None)
    assert "printable ASCII" in str(caught.value) and "SECRET" not in str(caught.value)
    with pytest.raises(ValidationError, match="api_keys_file"):
        Settings(api_keys_file=tmp_path / "missing.txt", _env_file=None)


def test_keys_from_the_environment(monkeypatch):
    monkeypatch.setenv("GRADCAM_API_KEYS", "first-key, second-key")
    keys = Settings(_env_file=None).api_keys
    assert [key.get_secret_value() for key in keys] == ["first-key", "second-key"]
    assert "first-key" not in repr(Settings(_env_file=None))


# --- CORS ---------------------------------------------------------------------

PREFLIGHT = {
    "origin": ORIGIN,
    "access-control-request-method": "POST",
    "access-control-request-headers": "authorization, content-type",
}


def test_a_preflight_from_an_allowed_origin_needs_no_key(guarded):
    response = guarded.options(KEYWORDS, headers=PREFLIGHT)
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


def test_a_preflight_from_another_origin_is_refused(guarded):
    response = guarded.options(KEYWORDS, headers=PREFLIGHT | {"origin": "https://evil.example"})
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_browsers_may_read_refusals_and_answers(guarded):
    refused = guarded.post(KEYWORDS, json=BODY, headers={"origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == ORIGIN
    assert "www-authenticate" in refused.headers["access-control-expose-headers"].lower()
    served = guarded.post(KEYWORDS, json=BODY, headers={"origin": ORIGIN, "x-api-key": KEY})
    assert served.headers["access-control-allow-origin"] == ORIGIN


def test_no_origin_is_allowed_by_default(client):
    response = client.post(KEYWORDS, json=BODY, headers={"origin": ORIGIN})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    assert client.options(KEYWORDS, headers=PREFLIGHT).status_code == 405


# --- docs ---------------------------------------------------------------------


def test_docs_and_openapi_can_be_switched_off(make_app):
    with TestClient(make_app(docs_enabled=False)) as closed:
        for path in ("/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect"):
            assert_problem(closed.get(path), 404)
        assert closed.get("/v1/models").status_code == 200


def test_docs_are_on_by_default(client):
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").status_code == 200
