"""No client input makes the API answer 5xx: every operation of the OpenAPI schema, as every role
and anonymously, with malformed ids in every path parameter and malformed bodies (not JSON, the
wrong JSON type, empty strings and wrong types in every field). Each answer is a 2xx/3xx or a 4xx in
the error envelope with a stable code."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import ApiToken
from common.errors import ErrorCode

pytestmark = pytest.mark.django_db

BAD_IDS = ["-1", "abc", "99999999999999999999", "00000000-0000-0000-0000-000000000000", "%00"]
BAD_BODIES = [b"{", b"[]", b'"x"', b"{}", b"\xff\xfe", b"[" * 2000]
STABLE_CODES = {c.value for c in ErrorCode}


@pytest.fixture
def fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def clients(fast_hashing, people, bid_storage):
    out = {"anonymous": Client()}
    for role in ("alice", "host", "expert", "supervisor", "admin"):
        out[role] = Client(HTTP_AUTHORIZATION=f"Bearer {ApiToken.issue(people[role], 'test')[1]}")
    return out


@pytest.fixture
def bid_storage(settings, tmp_path):
    settings.STORAGE_DIR = tmp_path / "storage"
    settings.PLATFORM_CA_KEY_FILE = tmp_path / "ca-key.pem"


def operations():
    from config.api import api

    schema = api.get_openapi_schema()
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            yield method.upper(), path, op, schema


def _resolve(schema, node):
    while "$ref" in node:
        node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[1]]
    return node


def wrong_bodies(schema, op) -> list[bytes]:
    """For a JSON body: each field in turn as an empty string, a number, null, a list and an object."""
    content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
    if not content:
        return []
    props = _resolve(schema, content["schema"]).get("properties", {})
    bodies = []
    for wrong in ("", -1, None, {}, "x" * 300):
        bodies.append(json.dumps({name: wrong for name in props}).encode())
    for name in props:
        for wrong in ("", 2**70):
            bodies.append(json.dumps({name: wrong}).encode())
    return bodies


def check(res, what: str) -> None:
    assert res.status_code < 500, f"{what}: {res.status_code} {res.content[:300]!r}"
    if res.status_code >= 400 and res.request["REQUEST_METHOD"] != "HEAD":
        error = res.json()["error"]
        assert error["code"] in STABLE_CODES and isinstance(error["message"], str), what


def send(client, method, url, body=None):
    return client.generic(method, url, data=body or b"", content_type="application/json")


def fill(path: str, value: str) -> str:
    import re

    return re.sub(r"\{[^}]+\}", value, path)


def test_malformed_ids_in_every_path_answer_4xx(clients):
    for method, path, op, schema in operations():
        if "{" not in path:
            continue
        for role in ("alice", "host"):
            for bad in BAD_IDS:
                url = fill(path, bad)
                check(send(clients[role], method, url, b"{}" if "requestBody" in op else None),
                      f"{role} {method} {url}")


def test_malformed_bodies_answer_4xx(clients, make_lot):
    lot = make_lot()
    for method, path, op, schema in operations():
        if "requestBody" not in op:
            continue
        url = fill(path, str(lot.pk))
        bodies = BAD_BODIES + wrong_bodies(schema, op)
        for role in ("alice", "host"):
            for body in bodies:
                check(send(clients[role], method, url, body), f"{role} {method} {url} {body[:80]!r}")


def test_malformed_json_is_bad_request_with_a_stable_code(clients, make_lot):
    lot = make_lot()
    res = send(clients["alice"], "POST", f"/api/v1/lots/{lot.pk}/uploads", b'{"size": ')
    assert res.status_code == 400 and res.json()["error"]["code"] == "bad_request"


def test_backup_decryption_with_an_empty_submission_id_is_bad_request(clients, make_lot):
    lot = make_lot()
    body = json.dumps({"submission": "", "reason": "钥匙丢失", "shares": []}).encode()
    res = send(clients["host"], "POST", f"/api/v1/lots/{lot.pk}/opening/backup-decryption", body)
    assert 400 <= res.status_code < 500, res.content
    assert res.json()["error"]["code"] in STABLE_CODES
