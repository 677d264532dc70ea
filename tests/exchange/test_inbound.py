"""A tender announcement received from another trading system by API (an integration's token)
becomes a draft lot, once per (source, external id), audited like the host's own form; only from a
configured source, signed by that source's key (RFC 9421): an unknown source, a bad signature, a
stale replay, a body changed under its signature or re-signed with another key are refused, audited."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client

from accounts.models import ApiToken
from audit.models import AuditEntry
from bidding.models import Lot
from common import clock
from crypto import httpsig, signing

pytestmark = pytest.mark.django_db
URL = "/api/v1/exchange/inbound/announcements"
SOURCE_KEY = signing.generate_signing_key()  # the trading system's own key
OTHER_KEY = signing.generate_signing_key()


def raw(key) -> str:
    return base64.b64encode(signing.public_key_bytes(key)).decode()


@pytest.fixture(autouse=True)
def trusted(settings):
    settings.EXCHANGE_INBOUND_SOURCES = [{"name": "js-ggzy", "public_key": raw(SOURCE_KEY)},
                                         {"name": "zj-ggzy", "public_key": raw(OTHER_KEY)}]


def announcement(orgs, **over):
    deadline = (clock.now() + timedelta(days=25)).isoformat()
    body = {"source": "js-ggzy", "external_id": "JS-2026-0042", "tenderee_credit_code": orgs["tenderee"].credit_code,
            "project": {"code": "JSJT-2026-0042", "title": "省道改扩建工程"},
            "lot": {"code": "01", "title": "路基施工", "bid_deadline": deadline}}
    body.update(over)
    return body


def signed(body, *, key=SOURCE_KEY, keyid="js-ggzy", created=None, data=None) -> tuple[bytes, dict]:
    """The request a source sends: the body and its RFC 9421 headers (Django's META names)."""
    data = data if data is not None else json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": f"{body.get('source')}:{body.get('external_id')}"}
    headers.update(httpsig.sign_request(key, method="POST", target_uri="http://testserver" + URL, headers=headers,
                                        body=data, keyid=keyid,
                                        created=created if created is not None else int(clock.now().timestamp())))
    return data, {"HTTP_" + k.upper().replace("-", "_"): v for k, v in headers.items() if k != "Content-Type"}


def send(token, data: bytes, meta: dict):
    return Client().post(URL, data=data, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}",
                         **meta)


def push(token, body, **how):
    return send(token, *signed(body, **how))


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
    assert Client().post(URL, data="{}", content_type="application/json").status_code == 401
    _, bidder_token = ApiToken.issue(people["alice"], "x")
    assert push(bidder_token, announcement(orgs)).status_code == 403  # a bidder creates no tender
    _, token = ApiToken.issue(people["host"], "省交易平台")
    for bad in (announcement(orgs, tenderee_credit_code="91320100XXXXXXXXXX"),
                announcement(orgs, lot={"code": "01", "title": "x", "bid_deadline": "tomorrow"}),
                announcement(orgs, lot={"code": "01", "title": "x", "bid_deadline": "2026-01-01T00:00:00"}),
                announcement(orgs, project=[1])):
        res = push(token, bad)
        assert res.status_code == 400, (bad, res.content)
        assert res.json()["error"]["code"] == "bad_request"
    assert push(token, announcement(orgs, source="")).status_code == 403  # no such source
    past = announcement(orgs, lot={"code": "01", "title": "x", "bid_deadline": (clock.now() - timedelta(days=1)).isoformat()})
    assert push(token, past).status_code == 400
    assert not Lot.objects.filter(project__code="JSJT-2026-0042").exists()


def refusals():
    return [json.loads(e.body)["data"] for e in AuditEntry.objects.filter(action="exchange.inbound.refused")
            .order_by("index")]


def error(res) -> tuple[int, str, str]:
    err = res.json()["error"]
    return res.status_code, err["code"], err.get("details", {}).get("reason", "")


def test_only_a_configured_source_signing_with_its_own_key_is_heard(people, orgs):
    _, token = ApiToken.issue(people["host"], "省交易平台")
    # An unknown source, even with a good signature of its own.
    stranger = signing.generate_signing_key()
    body = announcement(orgs, source="ah-ggzy")
    assert error(push(token, body, key=stranger, keyid="ah-ggzy")) == (403, "forbidden", "unknown_source")
    # A known source's name, no signature at all.
    data = json.dumps(announcement(orgs)).encode()
    assert error(send(token, data, {})) == (422, "invalid_signature", "bad_signature")
    # Re-signed with another key: an attacker's, and another trusted source's key claiming this source.
    assert error(push(token, announcement(orgs), key=stranger)) == (422, "invalid_signature", "bad_signature")
    assert error(push(token, announcement(orgs), key=OTHER_KEY)) == (422, "invalid_signature", "bad_signature")
    assert error(push(token, announcement(orgs), key=OTHER_KEY, keyid="zj-ggzy")) == (
        422, "invalid_signature", "bad_signature")  # zj-ggzy's own signature, but the body says js-ggzy
    # The body changed under a good signature (the deadline moved): the digest no longer matches.
    good_data, meta = signed(announcement(orgs))
    changed = json.loads(good_data)
    changed["lot"]["title"] = "被篡改的标段"
    assert error(send(token, json.dumps(changed).encode(), meta)) == (422, "invalid_signature", "bad_signature")
    assert not Lot.objects.filter(project__code="JSJT-2026-0042").exists()
    reasons = [r["reason"] for r in refusals()]
    assert reasons == ["unknown_source"] + ["bad_signature"] * 5
    assert refusals()[0]["source"] == "ah-ggzy" and len(refusals()[0]["sha256"]) == 64
    # Every refusal is a warning on the supervisors' console (its verb).
    from audit.alerts import classify

    assert classify("exchange.inbound.refused").level == "warning"

    # The genuine request is accepted; replayed at once it creates nothing more (the same lot, 200).
    assert send(token, good_data, meta).status_code == 201
    again = send(token, good_data, meta)
    assert again.status_code == 200 and again.json()["created"] is False
    assert Lot.objects.filter(project__code="JSJT-2026-0042").count() == 1
    # Replayed later than the signatures' freshness (EXCHANGE_INBOUND_MAX_AGE_SECONDS): refused.
    with time_machine.travel(clock.now() + timedelta(minutes=6), tick=False):
        _, token = ApiToken.issue(people["host"], "省交易平台 2")
        assert error(send(token, good_data, meta)) == (422, "invalid_signature", "bad_signature")
    # A captured signature replayed onto another announcement (a new external id) is refused too.
    other = announcement(orgs, external_id="JS-2026-0043")
    assert error(send(token, json.dumps(other).encode(), meta)) == (422, "invalid_signature", "bad_signature")
    assert Lot.objects.filter(project__code="JSJT-2026-0042").count() == 1


def test_no_source_configured_refuses_every_announcement(people, orgs, settings):
    settings.EXCHANGE_INBOUND_SOURCES = []
    _, token = ApiToken.issue(people["host"], "省交易平台")
    assert error(push(token, announcement(orgs))) == (403, "forbidden", "unknown_source")


@pytest.mark.parametrize("value", ['[{"name": "x"}]', '[{"name": "a b", "public_key": "AAAA"}]',
                                   '{"name": "x"}', "not json",
                                   '[{"name": "x", "public_key": "%s"}, {"name": "x", "public_key": "%s"}]'
                                   % ("A" * 43 + "=", "A" * 43 + "=")])
def test_a_malformed_list_of_sources_stops_the_settings(value):
    import os
    import subprocess
    import sys

    env = dict(os.environ, EXCHANGE_INBOUND_SOURCES=value)
    done = subprocess.run([sys.executable, "-c", "import config.settings"], env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "EXCHANGE_INBOUND_SOURCES" in done.stderr
