"""Rejecting all bids after the compliance review (R12 27; Law 42) and extending the time (Reg 48)
in a session: actions checked the ``verify_action`` way in every venue, audited, in the report."""

from __future__ import annotations

from datetime import timedelta

import pytest

from audit.models import AuditEntry
from common import clock
from common.errors import PlatformError
from evaluation import actions as a
from evaluation import actions_outcome as o
from evaluation import actions_scoring as s
from evaluation.models import EvaluationSession
from evaluation.report import pdf_context
from evaluation.testing import drive_to, expert_act, main_staff_act
from realtime.timers import run_due_timers

from .test_session_flow import verified

pytestmark = pytest.mark.django_db


def review(sc, failing: set[str]) -> None:
    """Every member fails the bidders in ``failing`` on 资格 (with a reason) and passes the rest."""
    for c in sorted(sc.members):
        for b in sc.bidders:
            for crit in sc.criteria:
                passed = not (b in failing and crit == "资格")
                expert_act(sc, c, s.do_vote_compliance, bidder=b, criterion=crit, passed=passed,
                           reason="" if passed else "营业执照过期")


def fresh(sc) -> EvaluationSession:
    return EvaluationSession.objects.get(pk=sc.session.pk)


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def with_two_valid_bids(sc):
    drive_to(sc, "compliance")
    review(sc, {"B03", "B04"})
    main_staff_act(sc, a.do_next)
    session = fresh(sc)
    assert session.state["step"] == "scoring" and session.compliance["passed"] == ["B01", "B02"]
    assert session.compliance["may_reject_all"] is True
    return session.state["chair"]


def test_the_committee_votes_to_reject_all_bids_and_the_report_says_so(scenario, tmp_path):
    sc = scenario
    chair = with_two_valid_bids(sc)
    values = {i["id"]: i["max"] for i in sc.items}
    # Until the committee decides, nothing is scored and scoring is not left.
    assert code_of(expert_act, sc, "E2", s.do_score, bidder="B01", values=values) == "invalid_state"
    assert code_of(main_staff_act, sc, a.do_next) == "invalid_state"
    assert code_of(expert_act, sc, "E2", o.do_vote_reject_all, reject=True) == "invalid_state"  # no proposal
    assert code_of(expert_act, sc, "E2", o.do_propose_reject_all, reason="x") == "forbidden"  # chair only
    assert code_of(expert_act, sc, chair, o.do_propose_reject_all, reason=" ") == "bad_request"
    verified(sc, lambda: expert_act(sc, chair, o.do_propose_reject_all,
                                    reason="有效投标只有两家，明显缺乏竞争"))
    assert code_of(expert_act, sc, chair, o.do_propose_reject_all, reason="again") == "invalid_state"
    verified(sc, lambda: expert_act(sc, "E1", o.do_vote_reject_all, reject=True))
    assert code_of(expert_act, sc, "E1", o.do_vote_reject_all, reject=False) == "invalid_state"  # once
    assert code_of(expert_act, sc, "E2", o.do_vote_reject_all, reject="yes") == "bad_request"
    expert_act(sc, "E2", o.do_vote_reject_all, reject=False)
    expert_act(sc, "E3", o.do_vote_reject_all, reject=True)
    assert fresh(sc).state["step"] == "scoring"  # 2 of 5 for rejecting: no majority yet
    _, pushes = verified(sc, lambda: expert_act(sc, "E4", o.do_vote_reject_all, reject=True))  # 3 of 5
    session = fresh(sc)
    assert session.state["step"] == "signing" and session.state["outcome"] == "all_rejected"
    assert session.reject_all["decision"] == "reject_all"
    assert session.reject_all["tally"] == {"reject": 3, "continue": 1, "members": 5}
    assert all(any(f["event"] == "eval.step" for f in frames) for frames in pushes.values())  # every venue
    assert code_of(expert_act, sc, "E5", o.do_vote_reject_all, reject=True) == "invalid_state"
    report = session.report
    assert report["outcome"] == "all_rejected" and report["ranking"] is None
    assert report["reject_all"]["votes"] == {"E1": True, "E2": False, "E3": True, "E4": True}
    actions = list(AuditEntry.objects.filter(action__startswith="evaluation.reject_all.")
                   .values_list("action", flat=True).order_by("index"))
    assert actions == ["evaluation.reject_all.proposed"] + ["evaluation.reject_all.voted"] * 4 + [
        "evaluation.reject_all.decided"]
    # The members sign (or are deemed to agree) and the evaluation ends without a ranking.
    run_due_timers(session.signing_deadline + timedelta(seconds=1))
    main_staff_act(sc, a.do_next)
    assert fresh(sc).state["step"] == "done" and fresh(sc).ranking is None
    from documents.pdf import render_pdf

    from .test_api_and_access import pdf_text

    ctx = pdf_context(fresh(sc))
    assert ctx["ranking"] == []
    text = pdf_text(render_pdf("documents/evaluation_report.html", ctx), tmp_path)
    for expected in ("评标结论：否决所有投标", "有效投标只有两家，明显缺乏竞争", "同意否决3票", "无（否决所有投标）"):
        assert expected in text, expected


def test_the_committee_may_continue_with_the_remaining_valid_bids(scenario):
    sc = scenario
    chair = with_two_valid_bids(sc)
    expert_act(sc, chair, o.do_propose_reject_all, reason="仅两家有效")
    for c in ("E1", "E2"):
        expert_act(sc, c, o.do_vote_reject_all, reject=False)
    verified(sc, lambda: expert_act(sc, "E3", o.do_vote_reject_all, reject=False))
    session = fresh(sc)
    assert session.state["step"] == "scoring" and session.reject_all["decision"] == "continue"
    for c in sorted(sc.members):
        for b in ("B01", "B02"):
            expert_act(sc, c, s.do_score, bidder=b, values={i["id"]: i["max"] for i in sc.items})
    for _ in ("summary", "ranking", "signing"):
        main_staff_act(sc, a.do_next)
    session = fresh(sc)
    assert session.report["outcome"] == "recommended" and session.report["reject_all"]["decision"] == "continue"
    assert [r["bidder"] for r in session.ranking["order"]] and len(session.ranking["candidates"]) == 2


def test_with_no_valid_bid_left_the_committee_can_only_reject_all(scenario):
    sc = scenario
    drive_to(sc, "compliance")
    review(sc, set(sc.bidders))
    main_staff_act(sc, a.do_next)  # leaving the review with no valid bid is no longer a dead end
    chair = fresh(sc).state["chair"]
    expert_act(sc, chair, o.do_propose_reject_all, reason="所有投标均未通过资格审查")
    assert fresh(sc).reject_all["options"] == ["reject_all"]
    assert code_of(expert_act, sc, "E2", o.do_vote_reject_all, reject=False) == "bad_request"
    for c in ("E1", "E2", "E3"):
        expert_act(sc, c, o.do_vote_reject_all, reject=True)
    assert fresh(sc).state["outcome"] == "all_rejected"


def test_three_valid_bids_cannot_be_rejected_for_lack_of_competition(scenario):
    sc = scenario
    drive_to(sc, "compliance")
    review(sc, {"B04"})
    main_staff_act(sc, a.do_next)
    chair = fresh(sc).state["chair"]
    assert code_of(expert_act, sc, chair, o.do_propose_reject_all, reason="x") == "invalid_state"
    expert_act(sc, "E1", s.do_score, bidder="B01", values={i["id"]: i["max"] for i in sc.items})


def test_more_than_a_third_saying_the_time_is_insufficient_extends_the_step(scenario, settings):
    sc = scenario
    settings.EVAL_EXTENSION_MINUTES = 20
    drive_to(sc, "scoring")
    assert code_of(expert_act, sc, "E1", o.do_time_insufficient) == "invalid_state"  # no clock running
    now = clock.now()
    main_staff_act(sc, a.do_set_clock, minutes=30)
    deadline = fresh(sc).step_deadline
    _, pushes = verified(sc, lambda: expert_act(sc, "E1", o.do_time_insufficient))
    assert fresh(sc).step_deadline == deadline  # 1 of 5 is not more than a third
    assert code_of(expert_act, sc, "E1", o.do_time_insufficient) == "invalid_state"  # once per member
    result, pushes = verified(sc, lambda: expert_act(sc, "E4", o.do_time_insufficient))  # 2 of 5: 6 > 5
    session = fresh(sc)
    assert result["extended"] and session.step_deadline == deadline + timedelta(minutes=20)
    ext = session.timing["extensions"]
    assert len(ext) == 1 and ext[0]["claims"] == ["E1", "E4"] and ext[0]["minutes"] == 20
    assert session.timing["claims"] == []  # a further extension needs a new third
    assert all(any(f["event"] == "eval.time" and f["payload"]["extended"] for f in frames)
               for frames in pushes.values())
    assert AuditEntry.objects.filter(action="evaluation.time.extended").count() == 1
    assert AuditEntry.objects.filter(action="evaluation.time.insufficient").count() == 2
    # A claim in the next step starts afresh, and the extension is in the report.
    assert now <= session.step_deadline
    drive_to(sc, "signing")
    assert fresh(sc).report["time_extensions"] == ext
