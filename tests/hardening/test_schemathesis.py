"""schemathesis against the real app, in process, with API keys on.

Every documented operation gets generated requests, valid and invalid ones (every
documented content type of the explain body included); each answer must be no 5xx and
conform to the documented status codes, content types, headers and schemas.

schemathesis' `ignored_auth` check is left out: its generated cases carry a random
`Authorization` value beside the explicit, valid X-API-Key, and it expects a 401. The
schemes are documented as alternatives and an `Authorization` header of another scheme
is ignored on purpose (a proxy's Basic auth may travel with the key); a wrong bearer key
is refused. test_auth_and_browsers.py covers authentication.

Driven through hypothesis directly: schemathesis' pytest integration for schemas built
in fixtures (`from_fixture`) does not run under pytest 9.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app.main import create_app
from app.settings import Settings

KEY = "schemathesis-key-0123456789"
AUTH = {"X-API-Key": KEY}  # as the security scheme spells it: probes strip it by name
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
]
# Only the operations are read here; the document does not depend on the models.
OPERATIONS = [
    (method, path)
    for path, methods in create_app(Settings(api_keys=[KEY], _env_file=None))
    .openapi()["paths"]
    .items()
    for method in methods
]


@pytest.fixture(scope="module")
def api_schema(make_app):
    """The schema as the guarded app serves it; requests go to that app, in process."""
    return schemathesis.openapi.from_asgi("/openapi.json", make_app(api_keys=[KEY]), headers=AUTH)


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_the_api_keeps_its_documented_promises(api_schema, method, path):
    operation = api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )
    # Generated ids almost never name a model: aim most cases at the served ones so the
    # bodies reach the parsers and the engine, not just the 404.
    model_ids = st.sampled_from(["tiny", "keywords", "tiny", "keywords", None])

    @given(case=cases, model_id=model_ids)
    @settings(
        max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    def conforms(case, model_id):
        if model_id is not None and "model_id" in (case.path_parameters or {}):
            case.path_parameters["model_id"] = model_id
        response = case.call_and_validate(headers=AUTH, checks=CHECKS)
        statuses.append(response.status_code)

    statuses: list[int] = []
    conforms()
    if "{model_id}" in path:  # the aim worked: some requests reached a model
        assert set(statuses) - {404}, statuses
