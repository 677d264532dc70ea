"""The OpenAPI document matches the API (docs/api.md): Schemathesis generates requests for every
operation from the document — as a bidder, a host, an expert and a supervisor — and every answer
must be no 5xx, a documented status, the documented content type and headers, and a body that
validates against the documented schema (the error envelope included). Bounded: a few examples per
operation and role, derandomized, so the run is the same each time and fits in CI."""

from __future__ import annotations

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.specs.openapi import checks as openapi_checks

from accounts.models import ApiToken

pytestmark = pytest.mark.django_db

ROLES = ("alice", "host", "expert", "supervisor")
EXAMPLES = 2  # per operation and role
CHECKS = [schemathesis.checks.not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_headers_conformance,
          openapi_checks.response_schema_conformance]


@schemathesis.serializer("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                         "application/octet-stream")
def binary_body(ctx, value):
    """Binary bodies (an xlsx bill, an upload chunk) as the bytes generated, or their text."""
    return value if isinstance(value, bytes) else str(value).encode()


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def storage(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "storage"
    settings.PLATFORM_CA_KEY_FILE = tmp_path / "ca-key.pem"


@pytest.fixture
def wsgi_app():
    """Django's WSGI handler in this thread, on the test's database transaction: as Django's test
    client does, the end of a request must not close the connection."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield get_wsgi_application()
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def schema():
    from config.api import api

    return schemathesis.openapi.from_dict(api.get_openapi_schema())


def test_the_schema_lists_error_codes_the_upload_headers_and_bounds(schema):
    from config.api import api

    doc = api.get_openapi_schema()
    envelope = doc["components"]["schemas"]["ErrorEnvelope"]
    assert "body_too_large" in envelope["properties"]["error"]["properties"]["code"]["enum"]
    patch = doc["paths"]["/api/v1/uploads/{upload_id}"]["patch"]
    assert {"name": "Upload-Offset", "in": "header", "required": True}.items() <= \
        next(p for p in patch["parameters"] if p["name"] == "Upload-Offset").items()
    assert "Upload-Offset" in patch["responses"]["200"]["headers"]
    assert "chunk_too_large" in patch["responses"]["413"]["x-error-codes"]
    first = next(p for p in doc["paths"]["/api/v1/audit/consistency"]["get"]["parameters"]
                 if p["name"] == "first")
    assert first["schema"]["minimum"] == 1 and first["schema"]["maximum"] == 2**63 - 1
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert {"400", "401", "404", "413"} <= set(op["responses"]), (method, path)


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_answers_as_documented(role, schema, wsgi_app, fast_hashing, storage, people,
                                               make_lot):
    make_lot()
    make_lot(status="draft")
    token = ApiToken.issue(people[role], "schemathesis")[1]
    app = wsgi_app
    headers = {"Authorization": f"Bearer {token}"}

    for result in schema.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                             phases=[Phase.explicit, Phase.generate],
                             suppress_health_check=list(HealthCheck))
        def run(case):
            response = case.call(app=app, headers=headers)
            case.validate_response(response, checks=CHECKS, headers=headers)

        run()
