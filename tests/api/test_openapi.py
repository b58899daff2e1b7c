"""The committed OpenAPI document matches the app, and documents every route."""

import json
from pathlib import Path

from app.export_openapi import DEFAULT_PATH, openapi_text

ROOT = Path(__file__).resolve().parents[2]


def test_committed_openapi_matches_the_app():
    committed = (ROOT / DEFAULT_PATH).read_text(encoding="utf-8")
    assert committed == openapi_text(), (
        "openapi/openapi.json is stale: run `python -m app.export_openapi`"
    )


def test_every_route_has_a_summary_and_examples():
    document = json.loads(openapi_text())
    schemas = document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method} {path} has no summary"
            success = next(code for code in operation["responses"] if code.startswith("2"))
            content = operation["responses"][success]["content"]
            media = content.get("application/json") or next(iter(content.values()))
            ref = media.get("schema", {}).get("$ref", "")
            example = media.get("example") or schemas.get(ref.rsplit("/", 1)[-1], {}).get(
                "examples"
            )
            assert example, f"{method} {path} has no response example"
    explain = document["paths"]["/v1/models/{model_id}:explain"]["post"]
    content = explain["requestBody"]["content"]
    assert {"application/json", "multipart/form-data", "image/jpeg", "image/png"} <= set(content)
    assert content["application/json"]["examples"]
    assert explain["responses"]["200"]["content"]["application/json"]["example"]
    assert "ExplainRequest" in document["components"]["schemas"]
