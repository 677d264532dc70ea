"""One draw per lot, never before the deadline, always against the actual bidders: a host cannot
shop for a committee by asking twice, nor draw while bids can still arrive."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.test import Client

from evaluation.models import Draw, EvaluationBid
from evaluation.testing import build, run_draw, sibling_lot

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def ask(sc, lot):
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    return client_for(sc.host).post("/api/v1/evaluation/draws", data=json.dumps({"lot_id": lot.pk, "quotas": quotas}),
                                    content_type="application/json")


def test_a_host_asking_twice_gets_no_second_committee(db):
    sc = build()
    lot = sibling_lot(sc)
    first = ask(sc, lot)
    assert first.status_code == 201, first.content
    assert first.json()["state"] == "committing" and first.json()["committee"] is None
    second = ask(sc, lot)
    assert second.status_code == 409 and second.json()["error"]["code"] == "conflict"
    assert "committee" not in second.content.decode()
    assert Draw.objects.filter(lot=lot).count() == 1
    assert ask(sc, sc.lot).status_code == 409  # the scenario's own lot has its draw too


def test_no_draw_before_the_deadline(db):
    sc = build()
    lot = sibling_lot(sc, bid_deadline=sc.lot.bid_deadline + timedelta(days=1), status="published")
    res = ask(sc, lot)
    assert res.status_code == 409 and res.json()["error"]["code"] == "deadline_not_reached"
    assert not Draw.objects.filter(lot=lot).exists()


@pytest.mark.parametrize("status", ["published", "draft", "cancelled", "failed"])
def test_no_draw_for_a_lot_that_is_not_being_opened_or_evaluated(db, status):
    sc = build()
    lot = sibling_lot(sc, status=status)
    res = ask(sc, lot)
    assert res.status_code in (404, 409) and not Draw.objects.filter(lot=lot).exists()
    if res.status_code == 409:
        assert res.json()["error"]["code"] == "invalid_state"


def test_no_draw_without_the_bidders_avoidance_checks(db):
    sc = build()
    lot = sibling_lot(sc)
    EvaluationBid.objects.filter(lot=lot).delete()
    res = ask(sc, lot)
    assert res.status_code == 409 and res.json()["error"]["code"] == "invalid_state"
    assert not Draw.objects.filter(lot=lot).exists()


def test_the_snapshot_carries_the_actual_bidders(db):
    sc = build(n_bidders=4)
    lot = sibling_lot(sc)
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw = run_draw(lot, quotas=quotas, host=sc.host, supervisor=sc.supervisor)
    served = client_for(sc.supervisor).get(f"/api/v1/evaluation/draws/{draw.pk}/snapshot")
    assert served.status_code == 200 and hashlib.sha256(served.content).hexdigest() == draw.snapshot_sha256
    snapshot = json.loads(served.content)
    orgs = {str(o) for o in EvaluationBid.objects.filter(lot=lot).values_list("bidder_org_id", flat=True)}
    assert {b["org"] for b in snapshot["bidders"]} == orgs and len(orgs) == 4
