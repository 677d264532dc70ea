"""A whole evaluation driven through the actions, checked the ``realtime.testing.verify_action`` way
for every viewer of every venue room at once (snapshot before + emitted events == snapshot after):
``verified`` below is that check across the session's rooms, since one action emits to all of them."""

from __future__ import annotations

import json

import pytest

from evaluation import actions as a
from evaluation import actions_scoring as s
from evaluation.room import VENUE_ROOM
from evaluation.state import room_key
from evaluation.testing import act, drive_to, expert_act, main_staff_act
from realtime.audience import Viewer

pytestmark = pytest.mark.django_db(transaction=False)


def viewers(sc, venue):
    out = [Viewer(user_id=sc.supervisor.pk, org_id=None, role="supervisor", sees_all=True),
           Viewer(user_id=sc.staff[venue.pk].pk, org_id=None,
                  role="main_staff" if venue == sc.venues[0] else "staff")]
    out += [Viewer(user_id=sc.experts[c].pk, org_id=None, role="expert")
            for c, m in sc.members.items() if m.venue_id == venue.pk]
    return out


def verified(sc, action):
    """Run ``action`` once, checking every viewer of every venue."""
    rooms = [(room_key(sc.session.pk, v.pk), viewers(sc, v)) for v in sc.venues]
    from realtime.log import missing_events, positions
    from realtime.models import Room

    before = {}
    for key, vs in rooms:
        room = Room.objects.filter(key=key).first()
        for v in vs:
            before[(key, v)] = (VENUE_ROOM.snapshot(key, v), {} if room is None else positions(room, v))
    result = action()
    pushes = {}
    for key, vs in rooms:
        room = Room.objects.get(key=key)
        for v in vs:
            state, held = before[(key, v)]
            records = missing_events(room, v, held, limit=10_000) or []
            frames = [json.loads(r.frame_text()) for r in records]
            for f in frames:
                state = VENUE_ROOM.apply(state, f)
            assert state == VENUE_ROOM.snapshot(key, v), (key, v)
            pushes[(key, v.role, v.user_id)] = frames
    return result, pushes


def test_the_steps_advance_in_every_venue_and_every_action_verifies(scenario):
    sc = scenario
    codes = sorted(sc.members)
    seen = set()

    def verified_once(sc, action, kind):
        # Each kind of action is verified for its first call (for every viewer of every venue);
        # the repetitions only run, which keeps the test fast.
        if kind in seen:
            return action(), {}
        seen.add(kind)
        return verified(sc, action)
    for c in codes:
        verified_once(sc, lambda: expert_act(sc, c, a.do_sign_in), 'sign_in')
        venue = sc.venue_of(c)
        role = "main_staff" if venue == sc.venues[0].pk else "staff"
        verified_once(sc, lambda: act(sc, sc.staff[venue], role, a.do_confirm, venue, member=c), 'confirm' + role)
    _, pushes = verified(sc, lambda: main_staff_act(sc, a.do_next))
    assert all(any(f["event"] == "eval.step" for f in frames) for frames in pushes.values())
    verified(sc, lambda: main_staff_act(sc, a.do_set_clock, minutes=30))
    verified(sc, lambda: main_staff_act(sc, a.do_show_document, id="doc-1", title="招标文件", page=3))
    for c in codes:
        verified_once(sc, lambda: expert_act(sc, c, a.do_pledge), 'pledge')
    verified(sc, lambda: main_staff_act(sc, a.do_next))
    for c in codes:
        verified_once(sc, lambda: expert_act(sc, c, a.do_vote_chair, candidate="E1"), 'vote' if c != codes[-1] else 'last')
    sc.session.refresh_from_db()
    assert sc.session.state["chair"] == "E1"
    verified(sc, lambda: expert_act(sc, "E1", a.do_next))  # the chair drives now
    for c in codes:
        for b in sc.bidders:
            for crit in sc.criteria:
                passed = not (b == "B04" and crit == "资格" and c in ("E1", "E2", "E3"))
                verified_once(sc, lambda: expert_act(sc, c, s.do_vote_compliance, bidder=b, criterion=crit,
                                                     passed=passed, reason="" if passed else "资质证书过期"),
                              "compliance")
    verified(sc, lambda: main_staff_act(sc, a.do_next))
    sc.session.refresh_from_db()
    assert sc.session.compliance["rejected"] == {"B04": ["资格"]}
    assert sc.session.compliance["may_reject_all"] is False
    for c in codes:
        for b in ("B01", "B02", "B03"):
            values = {i["id"]: i["max"] for i in sc.items}
            verified_once(sc, lambda: expert_act(sc, c, s.do_score, bidder=b, values=values), 'score')
    verified(sc, lambda: main_staff_act(sc, a.do_next))
    sc.session.refresh_from_db()
    assert set(sc.session.summary["bidders"]) == {"B01", "B02", "B03"}
    verified(sc, lambda: main_staff_act(sc, a.do_next))
    sc.session.refresh_from_db()
    assert sc.session.state["step"] == "ranking" and len(sc.session.ranking["candidates"]) == 3
    verified(sc, lambda: main_staff_act(sc, a.do_next))
    sc.session.refresh_from_db()
    assert sc.session.state["step"] == "signing" and len(sc.session.report_sha256) == 64


def test_experts_of_a_sub_venue_never_see_main_venue_names_or_other_sheets(scenario):
    sc = scenario
    drive_to(sc, "scoring")
    sub = sc.venues[1]
    sub_code = next(c for c, m in sc.members.items() if m.venue_id == sub.pk)
    key = room_key(sc.session.pk, sub.pk)
    me = Viewer(user_id=sc.experts[sub_code].pk, org_id=None, role="expert")
    expert_act(sc, "E1", s.do_score, bidder="B01", values={i["id"]: i["max"] for i in sc.items})
    snap = VENUE_ROOM.snapshot(key, me)
    text = repr(snap)
    for code, user in sc.experts.items():
        if sc.members[code].venue_id != sub.pk:
            assert str(user) not in text  # other venues' experts' names stay there
    assert set(snap["sheets"]) == {sub_code}  # only my own sheet
    assert snap["progress"]["E1"] == 1  # progress, never scores
    assert snap["names"] == {}

