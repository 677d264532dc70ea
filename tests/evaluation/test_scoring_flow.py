"""Scoring in a session: totals computed by hand, alerts, returns only for the allowed reasons,
corrections recorded, 暗标 codes, and the same summary in every venue."""

from __future__ import annotations

from decimal import Decimal

import pytest

from common.errors import PlatformError
from evaluation import actions as a
from evaluation import actions_scoring as s
from evaluation.models import Correction
from evaluation.room import VENUE_ROOM
from evaluation.state import room_key
from evaluation.testing import build, drive_to, expert_act, main_staff_act
from realtime.audience import Viewer

from .test_session_flow import verified

pytestmark = pytest.mark.django_db


def sheet(i1, i2, i3):
    return {"i1": str(i1), "i2": str(i2), "i3": str(i3)}


def test_totals_alerts_returns_and_corrections(scenario):
    sc = scenario  # items: i1 objective technical /30, i2 subjective technical /30, i3 business /10
    drive_to(sc, "scoring")
    by_price = sorted(sc.bidders, key=lambda b: sc.bidders[b].price_fen)
    low, x = by_price[0], by_price[1]
    for c in sorted(sc.members):
        for b in sc.bidders:
            i1 = 25 if c == "E2" else 30
            i2 = 0 if (c == "E3" and b == x) else 20
            payload = {"bidder": b, "values": sheet(i1, i2, 8)}
            if c == "E4" and b == low:
                payload["total"] = "57"  # the sum is 58: an arithmetic mismatch
            expert_act(sc, c, s.do_score, **payload)
    with pytest.raises(PlatformError) as err:
        expert_act(sc, "E1", s.do_score, bidder=low, values=sheet(30, "20.3", 8))
    assert err.value.code == "bad_request"  # not a multiple of the 0.5 step
    main_staff_act(sc, a.do_next)
    sc.session.refresh_from_db()
    summary = sc.session.summary
    # Lowest price: each expert's total is i1 + i2 + i3 (the maxima add up to the weights, factor 1):
    # 58 for E1, E3, E4, E5 and 25 + 20 + 8 = 53 for E2; mean = (4 × 58 + 53) / 5 = 285 / 5 = 57;
    # price score = lowest / lowest × 30 = 30; total 87.00.
    assert summary["bidders"][low]["total"] == "87.00"
    # The next price: 100,000,000 / 101,000,000 × 30 = 29.70297…; E3 scored i2 = 0 there:
    # (3 × 58 + 53 + 38) / 5 = 265 / 5 = 53; total 53 + 29.70297… = 82.70297… → 82.70.
    assert summary["price"]["scores"][x] == "29.70"
    assert summary["bidders"][x]["total"] == "82.70"
    codes = {(al["code"], al["bidder"], al["expert"], al["item"]) for per in summary["alerts"].values()
             for al in per}
    assert ("objective_inconsistent", low, None, "i1") in codes
    assert ("arithmetic_mismatch", low, "E4", None) in codes
    # E3 on x: 38 against the others' mean (3 × 58 + 53) / 4 = 56.75: 18.75 > 20 % of 70 = 14.
    assert ("score_outlier", x, "E3", None) in codes
    chair = sc.session.state["chair"]
    with pytest.raises(PlatformError) as err:
        expert_act(sc, chair, s.do_return_score, member="E3", bidder=x, item="i2", reason="disagree")
    assert err.value.code == "forbidden"  # subjective scores are never negotiated (F87 62)
    with pytest.raises(PlatformError) as err:
        expert_act(sc, chair, s.do_return_score, member="E3", bidder=x, item="i2", reason="objective_inconsistent")
    assert err.value.code == "forbidden"
    verified(sc, lambda: expert_act(sc, chair, s.do_return_score, member="E2", bidder=low, item="i1",
                                    reason="objective_inconsistent"))
    with pytest.raises(PlatformError):
        main_staff_act(sc, a.do_next)  # an open return blocks the ranking
    with pytest.raises(PlatformError):
        expert_act(sc, "E2", s.do_correct, bidder=low, item="i2", value="30")  # not the returned item
    verified(sc, lambda: expert_act(sc, "E2", s.do_correct, bidder=low, item="i1", value="30"))
    record = Correction.objects.get()
    assert (record.member.code, record.item, record.reason, record.old, record.new) == \
        ("E2", "i1", "objective_inconsistent", "25", "30")
    sc.session.refresh_from_db()
    # (5 × 58) / 5 = 58 + 30 = 88.00 after the correction, and the inconsistency is gone.
    assert sc.session.summary["bidders"][low]["total"] == "88.00"
    assert not [al for al in sc.session.summary["alerts"][low] if al["code"] == "objective_inconsistent"]
    full = dict(sc.session.summary)
    from evaluation.actions_scoring import compute_summary

    compute_summary(sc.session, None, require_complete=True)  # the incremental update = a full recompute
    assert sc.session.summary == full
    # Every venue shows the same summary.
    summaries = [VENUE_ROOM.snapshot(room_key(sc.session.pk, v.pk),
                                     Viewer(user_id=sc.staff[v.pk].pk, org_id=None, role="staff"))["summary"]
                 for v in sc.venues]
    assert all(x == summaries[0] for x in summaries)
    main_staff_act(sc, a.do_next)
    sc.session.refresh_from_db()
    assert sc.session.ranking["order"][0]["bidder"] == low


def test_blind_mode_shows_codes_until_the_ranking(db):
    sc = build(blind=True)
    drive_to(sc, "scoring")
    key = room_key(sc.session.pk, sc.venues[0].pk)
    expert = Viewer(user_id=sc.experts["E1"].pk, org_id=None, role="expert")
    snap = VENUE_ROOM.snapshot(key, expert)
    text = repr(snap)
    assert all(b.name not in text for b in sc.bidders.values())
    assert all("price_fen" not in v for v in snap["bidders"].values())
    supervisor = Viewer(user_id=sc.supervisor.pk, org_id=None, role="supervisor", sees_all=True)
    assert set(VENUE_ROOM.snapshot(key, supervisor)["names"]) == set(sc.bidders)
    drive_to(sc, "summary")
    _, pushes = verified(sc, lambda: main_staff_act(sc, a.do_next))  # to the ranking: names revealed
    snap = VENUE_ROOM.snapshot(key, expert)
    assert {v["name"] for v in snap["bidders"].values()} == {b.name for b in sc.bidders.values()}


def test_an_expert_sees_only_their_own_sheet_until_the_summary(scenario):
    sc = scenario
    drive_to(sc, "scoring")
    expert_act(sc, "E1", s.do_score, bidder="B01", values=sheet(30, 20, 8))
    key = room_key(sc.session.pk, sc.venues[0].pk)
    e2 = VENUE_ROOM.snapshot(key, Viewer(user_id=sc.experts["E2"].pk, org_id=None, role="expert"))
    assert e2["sheets"] == {"E2": {}} and e2["summary"] is None
    staff = VENUE_ROOM.snapshot(key, Viewer(user_id=sc.staff[sc.venues[0].pk].pk, org_id=None, role="main_staff"))
    assert staff["sheets"] == {}
    assert Decimal(e2["progress"]["E1"]) == 1
