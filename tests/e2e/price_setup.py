"""Helpers of the price-panel browser test (``test_journey_prices.py``), run inside ``manage.py
shell``: ``evaluation_setup``'s seated session (暗标, three bids) with the tender's abnormally-low
rule (below 98.5 % of the other bids' mean), driven to scoring with a chair elected and every bid
passing the review; then the bidder's written answer, and the scoring up to the summary."""

from __future__ import annotations

import contextlib
import io
import json


def _run(user, role, fn, session, venue, **payload):
    from common.actor import Actor
    from common import clock
    from evaluation import actions

    call = actions.Call(user=user, role=role, actor=Actor.of(user), now=clock.now(), payload=payload)
    return actions.in_session(session, fn, venue, call)


def build_priced_session() -> None:
    from accounts.models import User
    from evaluation import actions, actions_scoring
    from evaluation.models import EvaluationSession
    from tests.e2e.evaluation_setup import MAIN_REGION, build_seated_session

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        build_seated_session()
    ev = json.loads(out.getvalue().strip().splitlines()[-1])
    session = EvaluationSession.objects.get(pk=ev["session"])
    session.rules_settings = {**session.rules_settings,
                              "abnormally_low": {"basis": "mean_of_others", "percent": "98.5", "answer_minutes": 30}}
    session.save(update_fields=["rules_settings"])
    experts = {code: User.objects.get(username=m["username"]) for code, m in ev["members"].items()}
    staff = User.objects.get(username=f"venue_{MAIN_REGION}")
    chair = sorted(c for c, m in ev["members"].items() if m["venue"] == ev["main"])[0]
    for code, m in sorted(ev["members"].items()):
        _run(experts[code], "expert", actions.do_vote_chair, ev["session"], m["venue"], candidate=chair)
    _run(staff, "main_staff", actions.do_next, ev["session"], ev["main"])
    for code, m in sorted(ev["members"].items()):
        for bidder in ev["bidders"]:
            for criterion in session.scoring["criteria"]:
                _run(experts[code], "expert", actions_scoring.do_vote_compliance, ev["session"], m["venue"],
                     bidder=bidder, criterion=criterion, passed=True)
    _run(staff, "main_staff", actions.do_next, ev["session"], ev["main"])
    session.refresh_from_db()
    ev["chair"] = chair
    ev["flagged"] = sorted(session.price_review["low_price"]["flags"])
    print(json.dumps(ev, ensure_ascii=False))


def answer(session_id: int, bidder: str) -> None:
    from common.actor import Actor
    from common import clock
    from evaluation import actions, actions_clarify
    from evaluation.models import Clarification

    clar = Clarification.objects.select_related("bidder__bidder_org").get(session_id=session_id, bidder__code=bidder,
                                                                          purpose="low_price")
    user = clar.bidder.bidder_org.members.first()
    actions_clarify.do_answer(clar.pk, actions.Call(user=user, role="bidder", actor=Actor.of(user), now=clock.now(),
                                                    payload={"answer": "我公司自有设备与材料储备，详见成本分析表。"}))


def score_to_summary(session_id: int) -> None:
    from accounts.models import User
    from evaluation import actions, actions_scoring
    from evaluation.models import EvaluationSession
    from tests.e2e.evaluation_setup import ITEMS, MAIN_REGION

    session = EvaluationSession.objects.get(pk=session_id)
    for m in session.members.select_related("expert__user"):
        for bidder in session.bidders.filter(rejected__isnull=True):
            _run(m.expert.user, "expert", actions_scoring.do_score, session_id, m.venue_id, bidder=bidder.code,
                 values={i["id"]: i["max"] for i in ITEMS})
    staff = User.objects.get(username=f"venue_{MAIN_REGION}")
    _run(staff, "main_staff", actions.do_next, session_id, session.main_venue_id)
