"""A tender announcement received from another trading system by API (an integration's token)
becomes a draft lot, once per (source, external id), audited like the host's own form."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import ApiToken
from audit.models import AuditEntry
from bidding.models import Lot
from common import clock

pytestmark = pytest.mark.django_db


def announcement(orgs, **over):
    deadline = (clock.now() + timedelta(days=25)).isoformat()
    body = {"source": "js-ggzy", "external_id": "JS-2026-0042", "tenderee_credit_code": orgs["tenderee"].credit_code,
            "project": {"code": "JSJT-2026-0042", "title": "省道改扩建工程"},
            "lot": {"code": "01", "title": "路基施工", "bid_deadline": deadline}}
    body.update(over)
    return body


def push(token, body):
    return Client().post("/api/v1/exchange/inbound/announcements", data=json.dumps(body),
                         content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_an_announcement_becomes_a_draft_lot_once(people, orgs):
    _, token = ApiToken.issue(people["host"], "省交易平台")
    res = push(token, announcement(orgs))
    assert res.status_code == 201, res.content
    lot = Lot.objects.get(pk=res.json()["lot"])
    assert lot.status == "draft" and lot.title == "路基施工" and lot.project.tenderee == orgs["tenderee"]
    assert lot.project.agency == orgs["agency"]
    again = push(token, announcement(orgs))
    assert again.status_code == 200 and again.json()["lot"] == lot.pk and not again.json()["created"]
    assert Lot.objects.filter(project__code="JSJT-2026-0042").count() == 1
    actions = set(AuditEntry.objects.filter(tender_id=lot.pk).values_list("action", flat=True))
    assert {"bidding.lot.created", "exchange.inbound.received"} <= actions


def test_it_refuses_without_a_token_and_with_bad_input(people, orgs):
    assert Client().post("/api/v1/exchange/inbound/announcements", data="{}",
                         content_type="application/json").status_code == 401
    _, bidder_token = ApiToken.issue(people["alice"], "x")
    assert push(bidder_token, announcement(orgs)).status_code == 403  # a bidder creates no tender
    _, token = ApiToken.issue(people["host"], "省交易平台")
    for bad in (announcement(orgs, tenderee_credit_code="91320100XXXXXXXXXX"),
                announcement(orgs, lot={"code": "01", "title": "x", "bid_deadline": "tomorrow"}),
                announcement(orgs, lot={"code": "01", "title": "x", "bid_deadline": "2026-01-01T00:00:00"}),
                announcement(orgs, source=""), announcement(orgs, project=[1])):
        res = push(token, bad)
        assert res.status_code == 400, (bad, res.content)
        assert res.json()["error"]["code"] == "bad_request"
    past = announcement(orgs, lot={"code": "01", "title": "x", "bid_deadline": (clock.now() - timedelta(days=1)).isoformat()})
    assert push(token, past).status_code == 400
    assert not Lot.objects.filter(project__code="JSJT-2026-0042").exists()
