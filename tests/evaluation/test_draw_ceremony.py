"""The draw's commit-reveal steps (docs/draw.md): nobody chooses the seed alone, a contribution cannot
be changed after the snapshot, a withheld reveal neither stalls nor steers the draw, and a redraw
needs a reason from the rules and a supervisor."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.test import Client

from accounts.models import User
from audit.models import AuditEntry
from common import clock
from evaluation.models import Draw, DrawContribution
from evaluation.rules import draw_seed
from evaluation.testing import build, contribution, run_draw, sibling_lot

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def code(res) -> str:
    return res.json()["error"]["code"]


@pytest.fixture
def ceremony(db):
    """A lot ready for its draw, a host and a supervisor with their clients."""
    sc = build()
    lot = sibling_lot(sc)
    host, sup = client_for(sc.host), client_for(sc.supervisor)
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    res = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas, "reveal_minutes": 10})
    assert res.status_code == 201, res.content
    draw_id = res.json()["id"]
    values = {}
    for party, client in (("supervisor", sup), ("host", host)):
        values[party], commitment = contribution(draw_id, party)
        res = post(client, f"/api/v1/evaluation/draws/{draw_id}/commit", {"commitment": commitment})
        assert res.status_code == 201 and res.json()["party"] == party, res.content
    return sc, lot, draw_id, host, sup, values


def actions_of(draw_id) -> list[str]:
    return list(AuditEntry.objects.filter(action__startswith="evaluation.draw.", object_id=str(draw_id))
                .order_by("index").values_list("action", flat=True))


def test_the_full_draw_commits_then_publishes_the_snapshot_then_reveals(ceremony):
    sc, lot, draw_id, host, sup, values = ceremony
    res = post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    assert res.status_code == 200 and res.json()["state"] == "revealing", res.content
    snapshot = host.get(f"/api/v1/evaluation/draws/{draw_id}/snapshot").content
    entry = AuditEntry.objects.get(action="evaluation.draw.snapshot_published", object_id=str(draw_id))
    data = json.loads(entry.body)["data"]
    assert data["snapshot_sha256"] == hashlib.sha256(snapshot).hexdigest()
    assert set(data["commitments"]) == {"platform", "supervisor", "host"}
    platform = DrawContribution.objects.get(draw_id=draw_id, party="platform")
    assert data["platform_value"] == platform.value_hex  # the platform reveals first, with the snapshot
    assert post(sup, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["supervisor"]}).status_code == 200
    # Sealed until the draw is computed: the host does not see the supervisor's value.
    view = host.get(f"/api/v1/evaluation/draws/{draw_id}").json()
    sup_view = next(c for c in view["contributions"] if c["party"] == "supervisor")
    assert sup_view["revealed"] and sup_view["value"] is None and view["seed"] is None
    assert not any(values["supervisor"] in body for body in AuditEntry.objects.values_list("body", flat=True))
    res = post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]})
    assert res.status_code == 200 and res.json()["state"] == "drawn"
    row = Draw.objects.get(pk=draw_id)
    expected = draw_seed.derive_seed(draw_id, row.snapshot_sha256, {
        "platform": bytes.fromhex(platform.value_hex), "supervisor": bytes.fromhex(values["supervisor"]),
        "host": bytes.fromhex(values["host"])})
    assert row.seed_hex == expected.hex() and len(row.committee) == 5
    assert host.get(f"/api/v1/evaluation/draws/{draw_id}/verify").json()["verified"] is True
    assert actions_of(draw_id) == (["evaluation.draw.opened"] + ["evaluation.draw.contribution_committed"] * 3
                                   + ["evaluation.draw.snapshot_published"]
                                   + ["evaluation.draw.contribution_revealed"] * 2 + ["evaluation.draw.drawn"])


def test_the_snapshot_waits_for_every_commitment(db):
    sc = build()
    lot = sibling_lot(sc)
    host = client_for(sc.host)
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw_id = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas}).json()["id"]
    _, commitment = contribution(draw_id, "host")
    post(host, f"/api/v1/evaluation/draws/{draw_id}/commit", {"commitment": commitment})
    res = post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    assert res.status_code == 409 and code(res) == "invalid_state"
    assert res.json()["error"]["details"]["missing"] == ["supervisor"]
    assert not Draw.objects.get(pk=draw_id).snapshot


def test_a_party_cannot_change_its_contribution_after_seeing_the_snapshot(ceremony):
    sc, lot, draw_id, host, sup, values = ceremony
    early = post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]})
    assert early.status_code == 409 and code(early) == "invalid_state"  # no reveal before the snapshot
    again = post(host, f"/api/v1/evaluation/draws/{draw_id}/commit", {"commitment": contribution(draw_id, "host")[1]})
    assert again.status_code == 409 and code(again) == "conflict"  # one commitment per party
    post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    other_value, other_commitment = contribution(draw_id, "host")
    late = post(host, f"/api/v1/evaluation/draws/{draw_id}/commit", {"commitment": other_commitment})
    assert late.status_code == 409 and code(late) == "conflict"
    changed = post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": other_value})
    assert changed.status_code == 409 and code(changed) == "conflict"
    # Another party's value, or the right value under another party's name, does not pass either.
    assert post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["supervisor"]}).status_code == 409
    assert post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": "zz" * 32}).status_code == 400
    assert DrawContribution.objects.get(draw_id=draw_id, party="host").revealed_at is None
    assert post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]}).status_code == 200
    again = post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]})
    assert again.status_code == 409


def test_a_withheld_reveal_neither_stalls_nor_steers_the_draw(ceremony, time_machine):
    sc, lot, draw_id, host, sup, values = ceremony
    post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    assert post(sup, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["supervisor"]}).status_code == 200
    early = post(sup, f"/api/v1/evaluation/draws/{draw_id}/finish")
    assert early.status_code == 409 and code(early) == "deadline_not_reached"
    time_machine.move_to(clock.now() + timedelta(minutes=11))
    late = post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]})
    assert late.status_code == 409 and code(late) == "deadline_passed"
    res = post(sup, f"/api/v1/evaluation/draws/{draw_id}/finish")  # the supervisor finishes without the host
    assert res.status_code == 200 and res.json()["state"] == "drawn", res.content
    row = Draw.objects.get(pk=draw_id)
    platform = DrawContribution.objects.get(draw_id=draw_id, party="platform").value_hex
    expected = draw_seed.derive_seed(draw_id, row.snapshot_sha256, {
        "platform": bytes.fromhex(platform), "supervisor": bytes.fromhex(values["supervisor"]), "host": None})
    assert row.seed_hex == expected.hex()
    record = host.get(f"/api/v1/evaluation/draws/{draw_id}/published").json()
    assert [r["value"] for r in record["reveals"]] == [platform, values["supervisor"], None]
    assert host.get(f"/api/v1/evaluation/draws/{draw_id}/verify").json()["verified"] is True
    assert post(host, f"/api/v1/evaluation/draws/{draw_id}/finish").status_code == 409  # computed once


def test_when_only_the_platform_revealed_the_draw_lapses_and_a_redraw_needs_a_supervisor(ceremony, time_machine):
    sc, lot, draw_id, host, sup, values = ceremony
    post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    time_machine.move_to(clock.now() + timedelta(minutes=11))
    res = post(host, f"/api/v1/evaluation/draws/{draw_id}/finish")
    assert res.status_code == 200 and res.json()["state"] == "lapsed" and res.json()["seed"] is None
    quotas = Draw.objects.get(pk=draw_id).quotas
    again = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas})
    assert again.status_code == 409 and code(again) == "conflict"
    wrong = post(host, f"/api/v1/evaluation/draws/{draw_id}/redraw", {"reason": "legal_recusal", "note": "x"})
    assert wrong.status_code == 400
    assert post(sup, f"/api/v1/evaluation/draws/{draw_id}/redraw",
                {"reason": "reveals_missing", "note": "x"}).status_code == 403  # the host asks
    asked = post(host, f"/api/v1/evaluation/draws/{draw_id}/redraw",
                 {"reason": "reveals_missing", "note": "主持人与监督人均未在截止前公开"})
    assert asked.status_code == 201, asked.content
    redraw_id = asked.json()["id"]
    assert post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas}).status_code == 409
    assert post(host, f"/api/v1/evaluation/redraws/{redraw_id}/decide",
                {"approve": True, "note": "ok"}).status_code == 403  # not the host's decision
    decided = post(sup, f"/api/v1/evaluation/redraws/{redraw_id}/decide", {"approve": True, "note": "同意重新抽取"})
    assert decided.status_code == 200 and decided.json()["approved"] is True
    new = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas})
    assert new.status_code == 201 and new.json()["redraw_of"] == draw_id
    assert Draw.objects.get(pk=draw_id).state == "superseded"
    assert post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas}).status_code == 409
    record = host.get(f"/api/v1/evaluation/draws/{new.json()['id']}/published").json()
    assert [(r["reason"], r["approved"]) for r in record["redraws"]] == [("reveals_missing", True)]
    assert AuditEntry.objects.filter(action="evaluation.draw.redraw_approved", object_id=str(redraw_id)).exists()
    # The evaluation report keeps the draw's contributions and the lot's redraws.
    from evaluation.report import _draw_section

    section = _draw_section(Draw.objects.get(pk=new.json()["id"]))
    assert section["redraw_of"] == draw_id and [p["party"] for p in section["contributions"]] == ["platform"]
    assert [(r["reason"], r["approved"], r["note"]) for r in section["redraws"]] == [
        ("reveals_missing", True, "主持人与监督人均未在截止前公开")]


def test_a_refused_redraw_leaves_the_committee_in_place(db):
    sc = build()
    lot = sibling_lot(sc)
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw = run_draw(lot, quotas=quotas, host=sc.host, supervisor=sc.supervisor)
    host, sup = client_for(sc.host), client_for(sc.supervisor)
    assert post(host, f"/api/v1/evaluation/draws/{draw.pk}/redraw",
                {"reason": "reveals_missing", "note": "x"}).status_code == 400  # it did not lapse
    assert post(host, f"/api/v1/evaluation/draws/{draw.pk}/redraw",
                {"reason": "legal_recusal", "note": ""}).status_code == 400  # a written reason
    asked = post(host, f"/api/v1/evaluation/draws/{draw.pk}/redraw", {"reason": "legal_recusal", "note": "某专家须回避"})
    assert asked.status_code == 201
    assert post(host, f"/api/v1/evaluation/draws/{draw.pk}/redraw",
                {"reason": "legal_recusal", "note": "again"}).status_code == 409
    refused = post(sup, f"/api/v1/evaluation/redraws/{asked.json()['id']}/decide", {"approve": False, "note": "理由不成立"})
    assert refused.status_code == 200 and refused.json()["approved"] is False
    assert post(sup, f"/api/v1/evaluation/redraws/{asked.json()['id']}/decide",
                {"approve": True, "note": "改判"}).status_code == 409  # decided once
    assert post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas}).status_code == 409
    assert Draw.objects.get(pk=draw.pk).state == "drawn"
    # The scenario's draw has a session: members are replaced through the session, not redrawn.
    res = post(host, f"/api/v1/evaluation/draws/{sc.session.draw_id}/redraw", {"reason": "legal_recusal", "note": "x"})
    assert res.status_code == 409 and code(res) == "invalid_state"


def test_only_the_committing_user_reveals_and_outsiders_never_reach_the_draw(ceremony):
    sc, lot, draw_id, host, sup, values = ceremony
    post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    other_sup = User.objects.create(username="another-supervisor", role="supervisor")
    res = post(client_for(other_sup), f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["supervisor"]})
    assert res.status_code == 403
    bidder = client_for(next(iter(sc.bidder_users.values())))
    assert post(bidder, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]}).status_code == 404
    assert post(bidder, f"/api/v1/evaluation/draws/{draw_id}/commit", {"commitment": "00" * 32}).status_code == 404


def test_a_draw_that_withholds_leaves_a_committee_nobody_chose(db):
    """run_draw with the host withholding: the committee still comes, from the remaining reveals."""
    sc = build()
    lot = sibling_lot(sc)
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw = run_draw(lot, quotas=quotas, host=sc.host, supervisor=sc.supervisor, withhold=("host",))
    assert draw.state == "drawn" and len(draw.committee) == 5
    assert not draw.contributions.get(party="host").revealed_at


def test_a_bad_request_is_refused_before_anyone_commits(db):
    sc = build()
    lot = sibling_lot(sc)
    host = client_for(sc.host)
    for body in ({"quotas": {"x": 2}}, {"quotas": {"x": 5}, "reveal_minutes": 0},
                 {"quotas": {"x": 5}, "reveal_minutes": 100000}, {"quotas": {"x": 4}}, {"quotas": {"x": 5}, "min_size": 7}):
        res = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, **body})
        assert res.status_code in (400, 422), (body, res.content)
    res = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": {"x": 5}})
    assert res.status_code == 409 and code(res) == "conflict"  # no region x: no committee, nobody commits
    assert not Draw.objects.filter(lot=lot).exists()
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw_id = post(host, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": quotas}).json()["id"]
    for bad in ("", "00" * 31, "g" * 64, "00" * 33):
        res = post(host, f"/api/v1/evaluation/draws/{draw_id}/commit", {"commitment": bad})
        assert res.status_code == 400 and code(res) == "bad_request"


FLIP = "UPDATE evaluation_draw SET snapshot = replace(snapshot, '\"available\":true', '\"available\":false') WHERE id = %s"


@pytest.mark.parametrize("edits, mismatch", [
    ([FLIP], "snapshot"),
    # The hash recomputed too: the audit log still names the snapshot that was published.
    ([FLIP, "rehash"], "snapshot"),
    (["UPDATE evaluation_draw SET quotas = '{\"R0\": 5}' WHERE id = %s"], "parameters"),
    (["UPDATE evaluation_drawcontribution SET value_hex = '0000000000000000000000000000000000000000000000000000000000000000' WHERE draw_id = %s AND party = 'host'"],
     "reveals"),
    (["UPDATE evaluation_drawcontribution SET commitment = 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa' WHERE draw_id = %s AND party = 'platform'"],
     "commitments"),
    (["UPDATE evaluation_drawcontribution SET revealed_at = NULL WHERE draw_id = %s AND party = 'supervisor'"],
     "reveals"),
    (["UPDATE evaluation_draw SET seed_hex = '1111111111111111111111111111111111111111111111111111111111111111' WHERE id = %s"], "seed"),
    (["UPDATE evaluation_draw SET committee = '[\"999999\", \"2\", \"3\", \"4\", \"5\"]' WHERE id = %s"], "committee"),
    (["UPDATE evaluation_draw SET declined = '[\"1\"]' WHERE id = %s"], "declines"),
])
def test_an_insider_editing_the_draw_in_the_database_is_caught(db, edits, mismatch):
    from django.db import connection

    sc = build()
    lot = sibling_lot(sc)
    quotas = {v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}
    draw = run_draw(lot, quotas=quotas, host=sc.host, supervisor=sc.supervisor)
    host = client_for(sc.host)
    assert host.get(f"/api/v1/evaluation/draws/{draw.pk}/verify").status_code == 200
    with connection.cursor() as cursor:
        for edit in edits:
            if edit == "rehash":  # as an insider would: the stored hash made to match the edited snapshot
                cursor.execute("SELECT snapshot FROM evaluation_draw WHERE id = %s", [draw.pk])
                digest = hashlib.sha256(cursor.fetchone()[0].encode()).hexdigest()
                cursor.execute("UPDATE evaluation_draw SET snapshot_sha256 = %s WHERE id = %s", [digest, draw.pk])
            else:
                cursor.execute(edit, [draw.pk])
    res = host.get(f"/api/v1/evaluation/draws/{draw.pk}/verify")
    assert res.status_code == 409 and res.json()["error"]["details"]["mismatch"] == mismatch, res.content


def test_the_reveal_deadline_computes_the_draw_by_itself(ceremony):
    """Nobody has to press anything after the window: the ticker's timer computes the draw without
    the value not revealed (timers are data, realtime.timers)."""
    from realtime.timers import run_due_timers

    sc, lot, draw_id, host, sup, values = ceremony
    post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    assert post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]}).status_code == 200
    deadline = Draw.objects.get(pk=draw_id).reveal_deadline
    run_due_timers(deadline - timedelta(seconds=1))
    assert Draw.objects.get(pk=draw_id).state == "revealing"
    run_due_timers(deadline)
    row = Draw.objects.get(pk=draw_id)
    assert row.state == "drawn" and len(row.committee) == 5
    entry = AuditEntry.objects.get(action="evaluation.draw.drawn", object_id=str(draw_id))
    assert json.loads(entry.body)["data"]["withheld"] == ["supervisor"]
    run_due_timers(deadline + timedelta(minutes=1))
    assert AuditEntry.objects.filter(action="evaluation.draw.drawn", object_id=str(draw_id)).count() == 1  # once
    assert host.get(f"/api/v1/evaluation/draws/{draw_id}/verify").json()["verified"] is True


def test_a_pool_that_shrank_before_the_snapshot_lapses_the_draw_once(ceremony):
    from evaluation.models import Expert

    sc, lot, draw_id, host, sup, values = ceremony
    Expert.objects.filter(region=sc.venues[1].region).update(available=False)  # after the opening
    post(host, f"/api/v1/evaluation/draws/{draw_id}/snapshot")
    post(sup, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["supervisor"]})
    res = post(host, f"/api/v1/evaluation/draws/{draw_id}/reveal", {"value": values["host"]})
    assert res.status_code == 200 and res.json()["state"] == "lapsed" and res.json()["committee_size"] == 0
    entry = AuditEntry.objects.get(action="evaluation.draw.lapsed", object_id=str(draw_id))
    assert json.loads(entry.body)["data"]["reason"] == "pool_too_small"
    asked = post(host, f"/api/v1/evaluation/draws/{draw_id}/redraw", {"reason": "too_few_accepted", "note": "专家不足"})
    assert asked.status_code == 201
