"""Every problem `type` is a page of this service: what the problem means, how to fix it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.api.problem_types import PROBLEM_TYPES
from app.api.problems import HTTP_PROBLEMS
from app.errors import ExplainError
from app.main import create_app
from app.settings import Settings

# The handlers' own slugs, besides the error classes' (app/api/problems.py).
HANDLER_SLUGS = {"validation", "http-error", "internal-server-error"}


def error_classes(base: type[ExplainError] = ExplainError) -> list[type[ExplainError]]:
    found = [base]
    for subclass in base.__subclasses__():
        found += error_classes(subclass)
    return found


def produced_slugs() -> set[str]:
    """Every slug an error can carry: the error classes', the HTTP errors', the handlers'."""
    classes = {cls.type_slug for cls in error_classes()}
    return classes | {slug for _, slug in HTTP_PROBLEMS.values()} | HANDLER_SLUGS


def test_every_error_class_names_its_own_slug():
    """A subclass that forgot its slug would silently inherit its parent's."""
    for cls in error_classes():
        assert "type_slug" in vars(cls), f"{cls.__name__} has no type_slug of its own"
    slugs = [cls.type_slug for cls in error_classes()]
    assert len(slugs) == len(set(slugs))


def test_the_pages_are_exactly_the_slugs_errors_produce():
    assert set(PROBLEM_TYPES) == produced_slugs()


def test_each_page_gives_the_status_and_title_its_errors_carry():
    for cls in error_classes():
        kind = PROBLEM_TYPES[cls.type_slug]
        assert (kind.status, kind.title) == (cls.status, cls.title), cls.__name__
    for status, (title, slug) in HTTP_PROBLEMS.items():
        assert (PROBLEM_TYPES[slug].status, PROBLEM_TYPES[slug].title) == (status, title)


@pytest.mark.parametrize("slug", sorted(produced_slugs()))
def test_every_slug_has_a_page(client, slug):
    page = client.get(f"/problems/{slug}")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"].startswith("default-src 'none'")
    kind = PROBLEM_TYPES[slug]
    assert f"<h1>{kind.title}</h1>" in page.text and "How to fix the request" in page.text
    assert f"<code>/problems/{slug}</code>" in page.text
    as_json = client.get(f"/problems/{slug}", headers={"accept": "application/json"})
    assert as_json.headers["content-type"] == "application/json"
    assert as_json.json()["type"] == f"/problems/{slug}"
    assert as_json.json()["meaning"] == kind.meaning


def test_the_index_links_every_page(client):
    index = client.get("/problems")
    assert index.status_code == 200
    for slug in PROBLEM_TYPES:
        assert f'<a href="/problems/{slug}">' in index.text
    listed = client.get("/problems", headers={"accept": "application/json"}).json()
    assert [entry["type"] for entry in listed] == [kind.uri for kind in PROBLEM_TYPES.values()]


def test_an_unknown_slug_is_a_404_problem(client):
    response = client.get("/problems/no-such-problem")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "/problems/not-found" and "no-such-problem" in problem["detail"]
    assert client.get(problem["type"]).status_code == 200


def test_a_problem_type_dereferences_to_its_page(client):
    problem = client.get("/v1/models/nope").json()
    assert problem["type"] == "/problems/model-not-found"
    assert "GET /v1/models lists" in client.get(problem["type"]).text


def test_the_pages_need_no_api_key(tmp_path):
    settings = Settings(models_dir=tmp_path, api_keys=["k3y-for-tests_0123"], _env_file=None)  # type: ignore[call-arg, list-item]
    with TestClient(create_app(settings)) as guarded:
        refused = guarded.get("/v1/models")
        assert refused.status_code == 401
        page = guarded.get(refused.json()["type"])
        assert page.status_code == 200 and "X-API-Key" in page.text
        assert guarded.get("/problems").status_code == 200
        assert guarded.post("/problems/unauthorized").status_code == 401  # GET only


def test_the_openapi_document_lists_the_types(client):
    document = client.get("/openapi.json").json()
    assert "/problems/{slug}" in document["paths"] and "/problems" in document["paths"]
    problem_types = {
        uri
        for path in document["paths"].values()
        for operation in path.values()
        for response in operation["responses"].values()
        for media in response.get("content", {}).values()
        if "type" in media.get("schema", {}).get("properties", {})
        for uri in media["schema"]["properties"]["type"]["enum"]
    }
    assert problem_types == {kind.uri for kind in PROBLEM_TYPES.values()}


def test_the_docs_have_one_row_per_slug():
    page = Path(__file__).resolve().parents[2] / "docs" / "api-problems.md"
    rows = [
        line for line in page.read_text(encoding="utf-8").splitlines() if line.startswith("| `")
    ]
    cells = [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows]
    assert [(c[0].strip("`"), c[1], c[2]) for c in cells] == [
        (kind.slug, kind.status_text, kind.title) for kind in PROBLEM_TYPES.values()
    ]
