"""Helpers of the host's follow-panel browser test (``test_host_follow.py``), each run inside
``manage.py shell`` on ``evaluation_setup.build_session``'s session: the actions people take in the
venues (sign-in and the staff's confirmation, the steps up to scoring, the scores, a dissent on the
report), so the test can watch the host's page follow them."""

from __future__ import annotations

from tests.e2e.price_setup import _run


def _people(session_id: int):
    from accounts.models import User
    from evaluation.models import EvaluationSession
    from tests.e2e.evaluation_setup import MAIN_REGION, SUB_REGION

    session = EvaluationSession.objects.get(pk=session_id)
    staff = {session.main_venue_id: ("main_staff", User.objects.get(username=f"venue_{MAIN_REGION}"))}
    for sv in session.venues.filter(is_main=False):
        staff[sv.venue_id] = ("staff", User.objects.get(username=f"venue_{SUB_REGION}"))
    members = list(session.members.select_related("expert__user").order_by("code"))
    return session, staff, members


def sign_in(session_id: int, code: str) -> None:
    """One member signs in at their venue and its staff confirm the identity."""
    from evaluation import actions

    session, staff, members = _people(session_id)
    m = next(m for m in members if m.code == code)
    _run(m.expert.user, "expert", actions.do_sign_in, session_id, m.venue_id)
    role, user = staff[m.venue_id]
    _run(user, role, actions.do_confirm, session_id, m.venue_id, member=code)


def to_scoring(session_id: int) -> None:
    """Everyone else signs in, pledges, elects the first member chair, passes every bid: scoring."""
    from evaluation import actions, actions_scoring

    session, staff, members = _people(session_id)
    main_staff = staff[session.main_venue_id][1]
    for m in members:
        if m.signed_in_at is None:
            sign_in(session_id, m.code)
    _run(main_staff, "main_staff", actions.do_next, session_id, session.main_venue_id)
    for m in members:
        _run(m.expert.user, "expert", actions.do_pledge, session_id, m.venue_id)
    _run(main_staff, "main_staff", actions.do_next, session_id, session.main_venue_id)
    chair = next(m.code for m in members if m.venue_id == session.main_venue_id)
    for m in members:
        _run(m.expert.user, "expert", actions.do_vote_chair, session_id, m.venue_id, candidate=chair)
    _run(main_staff, "main_staff", actions.do_next, session_id, session.main_venue_id)
    for m in members:
        for bidder in session.bidders.values_list("code", flat=True):
            for criterion in session.scoring["criteria"]:
                _run(m.expert.user, "expert", actions_scoring.do_vote_compliance, session_id, m.venue_id,
                     bidder=bidder, criterion=criterion, passed=True)
    _run(main_staff, "main_staff", actions.do_next, session_id, session.main_venue_id)


def to_signing(session_id: int) -> None:
    """Everyone's scores, the summary and the ranking passed: the report is made, to be signed."""
    from evaluation import actions
    from tests.e2e.price_setup import score_to_summary

    score_to_summary(session_id)
    session, staff, _members = _people(session_id)
    _run(staff[session.main_venue_id][1], "main_staff", actions.do_next, session_id, session.main_venue_id)
    _run(staff[session.main_venue_id][1], "main_staff", actions.do_next, session_id, session.main_venue_id)


def dissent(session_id: int, code: str) -> None:
    from evaluation import actions_report

    _session, _staff, members = _people(session_id)
    m = next(m for m in members if m.code == code)
    _run(m.expert.user, "expert", actions_report.do_dissent, session_id, m.venue_id, reason="价格评分方法有不同意见。")


def score(session_id: int, code: str) -> None:
    """One member saves the scores of every bid."""
    from evaluation import actions_scoring
    from tests.e2e.evaluation_setup import ITEMS

    session, _staff, members = _people(session_id)
    m = next(m for m in members if m.code == code)
    for bidder in session.bidders.values_list("code", flat=True):
        _run(m.expert.user, "expert", actions_scoring.do_score, session_id, m.venue_id, bidder=bidder,
             values={i["id"]: i["max"] for i in ITEMS})
