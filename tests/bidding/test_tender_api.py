"""Tenders through the HTTP API: errors in one shape, every change audited."""

import json
from datetime import timedelta

import pytest
from django.test import Client

from audit.models import AuditEntry
from bidding.models import Lot
from common import clock
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body=None, **kw):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json", **kw)


def new_lot_body(deadline_days=20):
    deadline = clock.now() + timedelta(days=deadline_days)
    return {"code": "01", "title": "施工总承包", "bid_deadline": deadline.isoformat()}


def test_a_host_creates_publishes_and_amends_a_tender(people, orgs):
    host = client_for(people["host"])
    before = AuditEntry.objects.count()
    res = post(host, "/api/v1/projects", {"code": "P-1", "title": "道路工程",
                                         "tenderee_id": orgs["tenderee"].pk, "agency_id": orgs["agency"].pk})
    assert res.status_code == 201, res.content
    project_id = res.json()["id"]
    res = post(host, f"/api/v1/projects/{project_id}/lots", new_lot_body())
    assert res.status_code == 201, res.content
    lot = res.json()
    assert lot["status"] == "draft" and lot["min_bids"] == 3
    assert [f["key"] for f in lot["announced_fields"]] == ["price", "duration_days", "quality"]
    res = post(host, f"/api/v1/lots/{lot['id']}/publish")
    assert res.status_code == 200 and res.json()["status"] == "published"
    # A material field can no longer be patched ...
    res = host.patch(f"/api/v1/lots/{lot['id']}", data=json.dumps({"min_bids": 5}),
                     content_type="application/json")
    assert res.status_code == 409 and res.json()["error"]["code"] == "amendment_required"
    # ... but the title can, and an amendment with a reason can change the rest.
    res = host.patch(f"/api/v1/lots/{lot['id']}", data=json.dumps({"title": "施工总承包（一标段）"}),
                     content_type="application/json")
    assert res.status_code == 200 and res.json()["title"] == "施工总承包（一标段）"
    res = post(host, f"/api/v1/lots/{lot['id']}/amendments", {"min_bids": 5, "reason": "澄清第1号"})
    assert res.status_code == 201, res.content
    assert res.json()["changes"] == {"min_bids": [3, 5]}
    assert Lot.objects.get(pk=lot["id"]).min_bids == 5
    actions = list(AuditEntry.objects.filter(index__gte=before).values_list("action", flat=True))
    assert [a for a in actions if a.startswith("bidding.")] == [
        "bidding.project.created", "bidding.lot.created", "bidding.lot.published",
        "bidding.lot.edited", "bidding.lot.amended"]


def test_a_bidder_cannot_create_or_see_drafts(people, orgs, make_lot):
    alice = client_for(people["alice"])
    res = post(alice, "/api/v1/projects", {"code": "P-2", "title": "x", "tenderee_id": orgs["tenderee"].pk})
    assert res.status_code == 403 and res.json()["error"]["code"] == "forbidden"
    draft = make_lot(status="draft")
    published = make_lot(status="published")
    ids = [lot["id"] for lot in alice.get("/api/v1/lots").json()]
    assert published.pk in ids and draft.pk not in ids
    res = alice.get(f"/api/v1/lots/{draft.pk}")
    assert res.status_code == 404
    assert res.json() == {"error": {"code": "not_found", "message": "lot not found", "temporary": False}}


def test_another_agencys_host_cannot_publish(people, make_lot):
    lot = make_lot(status="draft")
    res = post(client_for(people["other_host"]), f"/api/v1/lots/{lot.pk}/publish")
    assert res.status_code == 404
    assert Lot.objects.get(pk=lot.pk).status == "draft"


def test_malformed_json_is_a_bad_request_not_a_traceback(people):
    host = client_for(people["host"])
    res = host.post("/api/v1/projects", data="{not json", content_type="application/json")
    assert res.status_code == 400
    assert res.json()["error"]["code"] == "bad_request"
    res = post(host, "/api/v1/projects", {"code": "", "title": 5})
    assert res.status_code == 400 and res.json()["error"]["code"] == "bad_request"
    assert res.json()["error"]["details"]["errors"]


def test_a_late_deadline_is_refused_with_the_field_named(people, orgs):
    host = client_for(people["host"])
    project = post(host, "/api/v1/projects", {"code": "P-3", "title": "x", "tenderee_id": orgs["tenderee"].pk,
                                              "agency_id": orgs["agency"].pk}).json()
    res = post(host, f"/api/v1/projects/{project['id']}/lots", new_lot_body(deadline_days=-1))
    assert res.status_code == 400
    assert "bid_deadline" in res.json()["error"]["details"]


def test_unauthenticated_calls_get_the_error_shape(db):
    res = Client().get("/api/v1/lots")
    assert res.status_code == 401 and res.json()["error"]["code"] == "unauthenticated"


def test_session_calls_need_the_csrf_token(people, orgs):
    client = Client(enforce_csrf_checks=True)
    client.force_login(people["host"])
    res = post(client, "/api/v1/projects", {"code": "P-4", "title": "x", "tenderee_id": orgs["tenderee"].pk})
    assert res.status_code in (401, 403)
    assert Lot.objects.count() == 0


def test_a_token_authenticates_an_integration(people, make_lot):
    from accounts.models import ApiToken

    lot = make_lot(status="published")
    token, secret = ApiToken.issue(people["supervisor"], "监督系统对接")
    res = Client().get("/api/v1/lots", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert res.status_code == 200 and [x["id"] for x in res.json()] == [lot.pk]
    res = Client().get("/api/v1/lots", HTTP_AUTHORIZATION=f"Bearer {secret[:-1]}x")
    assert res.status_code == 401
    token.revoked_at = clock.now()
    token.save()
    assert Client().get("/api/v1/lots", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401


def test_the_openapi_document_describes_the_operations(db):
    res = Client().get("/api/v1/openapi.json")
    assert res.status_code == 200
    paths = res.json()["paths"]
    assert {"/api/v1/lots", "/api/v1/projects", "/api/v1/lots/{lot_id}/amendments"} <= set(paths)


def test_the_server_time_is_public(db):
    res = Client().get("/api/v1/time")
    assert res.status_code == 200 and res.json()["server_time_text"].endswith("Z")


def test_a_user_creates_lists_and_revokes_their_own_tokens(people):
    from django.core.management import call_command
    import io

    alice = client_for(people["alice"])
    res = post(alice, "/api/v1/tokens", {"name": "sealbid"})
    assert res.status_code == 201
    secret = res.json()["token"]
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").json()["username"] == "alice"
    # A token cannot mint tokens.
    assert Client().post("/api/v1/tokens", data="{}", content_type="application/json",
                         HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    listed = alice.get("/api/v1/tokens").json()
    assert [t["name"] for t in listed] == ["sealbid"] and "token" not in listed[0]
    bob = client_for(people["bob"])
    assert bob.delete(f"/api/v1/tokens/{listed[0]['id']}").status_code == 404
    assert alice.delete(f"/api/v1/tokens/{listed[0]['id']}").status_code == 204
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").status_code == 401
    out = io.StringIO()
    call_command("issue_token", "bob", stdout=out)
    assert Client().get("/api/v1/me", HTTP_AUTHORIZATION=f"Bearer {out.getvalue().strip()}").status_code == 200


def test_a_token_writes_without_csrf_even_where_sessions_need_it(people, orgs):
    from accounts.models import ApiToken

    _, secret = ApiToken.issue(people["host"], "integration")
    client = Client(enforce_csrf_checks=True)
    res = post(client, "/api/v1/projects", {"code": "P-T", "title": "x", "tenderee_id": orgs["tenderee"].pk,
                                           "agency_id": orgs["agency"].pk},
               HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert res.status_code == 201, res.content


def test_an_escrow_tender_is_published_only_once_its_custodians_hold_the_key(people, make_lot):
    lot = make_lot(status="draft", escrow_required=True)
    res = post(client_for(people["host"]), f"/api/v1/lots/{lot.pk}/publish")
    assert res.status_code == 409 and res.json()["error"]["code"] == "escrow_not_ready"
