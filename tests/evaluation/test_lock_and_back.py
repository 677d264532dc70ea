"""A venue that drops locks the session (no score can change) and its return resumes it; going back
needs the chair's request and a supervisor's approval. Both recorded (audit + room events)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from audit.models import AuditEntry
from common import clock
from common.errors import PlatformError
from evaluation import actions as a
from evaluation import actions_venues as av
from evaluation import actions_scoring as s
from evaluation.models import EvaluationSession
from evaluation.room import VENUE_ROOM
from evaluation.state import room_key
from evaluation.testing import act, drive_to, expert_act
from realtime.audience import Viewer
from realtime.models import Presence
from realtime.timers import run_due_timers

from .test_session_flow import verified

pytestmark = pytest.mark.django_db


def enter(sc, venue, user, role, now, conn="c"):
    Presence.objects.create(conn_id=f"{conn}{user.pk}", room_key=room_key(sc.session.pk, venue.pk),
                            user_id=user.pk, role=role, worker="w", joined_at=now, seen_at=now)


def test_a_dropped_sub_venue_locks_the_session_and_its_return_resumes_it(scenario, settings):
    sc = scenario
    settings.EVAL_VENUE_DROP_SECONDS = 10
    drive_to(sc, "scoring")
    t0 = clock.now()
    for v in sc.venues:
        enter(sc, v, sc.staff[v.pk], "staff", t0)
    sc.session.refresh_from_db()
    check = lambda t: av.check_venues(EvaluationSession.objects.get(pk=sc.session.pk), t)  # noqa: E731
    check(t0)
    sub = sc.venues[1]
    Presence.objects.filter(room_key=room_key(sc.session.pk, sub.pk)).delete()
    check(t0 + timedelta(seconds=1))  # absent, not yet long enough
    assert not EvaluationSession.objects.get(pk=sc.session.pk).state["missing_venues"]
    _, pushes = verified(sc, lambda: check(t0 + timedelta(seconds=12)))
    state = EvaluationSession.objects.get(pk=sc.session.pk).state
    assert state["missing_venues"] == [str(sub.pk)]
    down = [f for frames in pushes.values() for f in frames if f["event"] == "eval.venue_down"]
    assert {k[0] for k in pushes} == {room_key(sc.session.pk, v.pk) for v in sc.venues}
    assert all(any(f["event"] == "eval.venue_down" for f in frames) for frames in pushes.values())
    assert all(f["payload"]["missing_members"] and f["payload"]["venue"] == sub.pk for f in down)
    with pytest.raises(PlatformError) as err:
        expert_act(sc, "E1", s.do_score, bidder="B01", values={i["id"]: i["max"] for i in sc.items})
    assert err.value.code == "invalid_state"
    with pytest.raises(PlatformError):
        act(sc, sc.staff[sc.venues[0].pk], "main_staff", a.do_next)
    enter(sc, sub, sc.staff[sub.pk], "staff", t0 + timedelta(seconds=20), conn="back")
    verified(sc, lambda: check(t0 + timedelta(seconds=21)))
    state = EvaluationSession.objects.get(pk=sc.session.pk).state
    assert state["missing_venues"] == [] and state["locks"][0]["ended_at"]
    up = json.loads(AuditEntry.objects.filter(action="evaluation.venue.up").get().body)
    assert up["data"]["lock_seconds"] == 9.0 and up["data"]["resumed"] is True  # down at +12, up at +21
    assert AuditEntry.objects.filter(action="evaluation.venue.down").count() == 1
    expert_act(sc, "E1", s.do_score, bidder="B01", values={i["id"]: i["max"] for i in sc.items})


def test_the_presence_timer_runs_through_the_ticker(scenario, settings):
    sc = scenario
    settings.EVAL_VENUE_DROP_SECONDS = 0
    drive_to(sc, "pledge")
    later = clock.now() + timedelta(seconds=30)
    assert run_due_timers(later) >= 1  # nobody present anywhere: every venue drops
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    assert len(session.state["missing_venues"]) == len(sc.venues)
    assert session.next_check > later


def test_going_back_needs_the_chairs_request_and_a_supervisors_approval(scenario):
    sc = scenario
    drive_to(sc, "summary")
    chair = sc.session.state["chair"] if sc.session.state["chair"] else "E1"
    with pytest.raises(PlatformError) as err:
        expert_act(sc, "E2", a.do_request_back, to="scoring", reason="重新评分")
    assert err.value.code == "forbidden"
    verified(sc, lambda: expert_act(sc, chair, a.do_request_back, to="scoring", reason="E2 漏评一项"))
    with pytest.raises(PlatformError):
        act(sc, sc.staff[sc.venues[0].pk], "main_staff", a.do_next)  # nothing moves while it waits
    verified(sc, lambda: act(sc, sc.supervisor, "supervisor", a.do_decide_back, approve=True))
    sc.session.refresh_from_db()
    assert sc.session.state["step"] == "scoring" and sc.session.summary is None
    actions = list(AuditEntry.objects.filter(action__startswith="evaluation.back.").values_list("action", flat=True))
    assert actions == ["evaluation.back.requested", "evaluation.back.approved"]


def test_the_tenderers_representative_cannot_chair(db):
    from evaluation.testing import build

    sc = build(tenderer_rep=True)
    drive_to(sc, "chair_election")
    rep = next(c for c, m in sc.members.items() if m.tenderer_rep)
    with pytest.raises(PlatformError) as err:
        expert_act(sc, "E1", a.do_vote_chair, candidate=rep)
    assert err.value.code == "bad_request"


def test_sign_in_is_confirmed_by_staff_of_the_experts_own_venue_only(scenario):
    sc = scenario
    sub_code = next(c for c, m in sc.members.items() if m.venue_id == sc.venues[1].pk)
    expert_act(sc, sub_code, a.do_sign_in)
    with pytest.raises(PlatformError) as err:
        act(sc, sc.staff[sc.venues[0].pk], "main_staff", a.do_confirm, sc.venues[0].pk, member=sub_code)
    assert err.value.code == "forbidden"
    with pytest.raises(PlatformError):
        act(sc, sc.staff[sc.venues[0].pk], "main_staff", a.do_next)  # not everyone is in


def test_going_back_to_the_election_elects_the_chair_again(scenario):
    sc = scenario
    drive_to(sc, "compliance")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    expert_act(sc, chair, a.do_request_back, to="chair_election", reason="负责人回避")
    verified(sc, lambda: act(sc, sc.supervisor, "supervisor", a.do_decide_back, approve=True))
    state = EvaluationSession.objects.get(pk=sc.session.pk).state
    assert state["step"] == "chair_election" and state["chair"] is None
    for c in sorted(sc.members):
        expert_act(sc, c, a.do_vote_chair, candidate="E2")
    assert EvaluationSession.objects.get(pk=sc.session.pk).state["chair"] == "E2"


def test_going_back_from_the_ranking_hides_the_names_again_in_blind_mode(db):
    """暗标: names are shown from the ranking on. Going back from the ranking (names visible) to the
    summary (hidden) clears the ranking, and the bidders' section sent with it is the one of the step
    gone back to: no event gives away a name that the snapshot of that step hides."""
    from evaluation.testing import build

    sc = build(blind=True)
    drive_to(sc, "ranking")
    names = {b.name for b in sc.bidders.values()}
    key = room_key(sc.session.pk, sc.venues[0].pk)
    expert = Viewer(user_id=sc.experts["E1"].pk, org_id=None, role="expert")
    assert {v["name"] for v in VENUE_ROOM.snapshot(key, expert)["bidders"].values()} == names
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    expert_act(sc, chair, a.do_request_back, to="summary", reason="复核汇总")
    _, pushes = verified(sc, lambda: act(sc, sc.supervisor, "supervisor", a.do_decide_back, approve=True))
    assert EvaluationSession.objects.get(pk=sc.session.pk).state["step"] == "summary"
    for (room, role, _), frames in pushes.items():
        sent = [p for f in frames for p in f["payload"].get("patch", []) if p[0] == ["bidders"]]
        assert sent, (room, role)  # the statuses are re-sent with the ranking cleared
        assert all(name not in json.dumps(sent, ensure_ascii=False) for name in names), (room, role)
        assert all("price_fen" not in v for p in sent for v in p[1].values())
    assert all("name" not in v for v in VENUE_ROOM.snapshot(key, expert)["bidders"].values())
