"""The price review in a session (evaluation/actions_price_review.py): bids above the ceiling
rejected before scoring (实施条例 51), SME deductions from the bid's 声明函 on the evaluated price
only (财库〔2020〕46号 / 〔2022〕19号), abnormally low prices flagged, explained through the clarification
channel and decided by the committee with reasons (财政部令第87号 Art. 60)."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

import pytest

from common.actor import Actor
from audit.models import AuditEntry
from common import clock
from common.errors import PlatformError
from evaluation import actions as a
from evaluation import actions_clarify as c
from evaluation import actions_price_review as pr
from evaluation import actions_scoring as s
from evaluation.models import Clarification, EvaluationSession
from evaluation.testing import Call, build, drive_to, expert_act

pytestmark = pytest.mark.django_db

# testing.build prices: 1,000,000.00 / 1,010,000.00 / 1,020,000.00 / 1,030,000.00 元 (+ 10,000 元 each)
CEILING = 102_000_000
SHA = "cd" * 32


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def by_price(sc):
    return sorted(sc.bidders, key=lambda b: sc.bidders[b].price_fen)


def session_of(sc):
    return EvaluationSession.objects.get(pk=sc.session.pk)


def chair_of(sc):
    return session_of(sc).state["chair"]


def test_bids_above_the_ceiling_leave_before_scoring_and_the_rest_are_scored_on_the_declared_rule():
    sc = build(n_bidders=5, settings={"price_rule": {"ceiling_fen": CEILING}})
    drive_to(sc, "scoring")
    session = session_of(sc)
    low, second, third, fourth, fifth = by_price(sc)
    assert session.compliance["rejected"] == {fourth: ["above_ceiling"], fifth: ["above_ceiling"]}
    assert session.price_review["above_ceiling"] == {fourth: 103_000_000, fifth: 104_000_000}
    assert code_of(expert_act, sc, chair_of(sc), s.do_score,
                   bidder=fifth, values={i["id"]: i["max"] for i in sc.items}) == "invalid_state"
    drive_to(sc, "summary")
    price = session_of(sc).summary["price"]
    assert set(price["scores"]) == {low, second, third}
    detail = price["detail"]
    assert detail["benchmark"]["exact"] == "100000000" and detail["rule"]["ceiling_fen"] == CEILING
    # 1,000,000 / 1,010,000 × 30 = 3000/101 = 29.7029… → 29.70 (half up, 2 places)
    assert detail["bidders"][second]["exact"] == "3000/101" and detail["bidders"][second]["rounded"] == "29.70"
    assert detail["rounding"] == {"mode": "ROUND_HALF_UP", "decimals": 2}


def test_a_small_enterprise_declaration_lowers_its_evaluated_price_only():
    """Goods at 10 % (财库〔2022〕19号: 10–20 %): the 1,020,000.00 元 bid of a small enterprise is
    evaluated at 918,000.00 元, becomes the benchmark and scores 30; its bid price stays."""
    sc = build(settings={"sme": {"project": "goods_services", "small_micro": "10"}})
    low, second, third, fourth = by_price(sc)
    sc.bidders[third].announced = {"sme_declaration": {"kind": "small_micro", "statement_sha256": SHA}}
    sc.bidders[third].save(update_fields=["announced"])
    sc.bidders[fourth].announced = {"sme_declaration": {"kind": "small_micro"}}  # no 声明函 hash: recorded invalid
    sc.bidders[fourth].save(update_fields=["announced"])
    drive_to(sc, "summary")
    session = session_of(sc)
    assert session.price_review["sme"]["declarations"][third]["statement_sha256"] == SHA
    assert "invalid" in session.price_review["sme"]["declarations"][fourth]
    detail = session.summary["price"]["detail"]
    assert detail["sme"][third] == {"price_fen": 102_000_000, "rate_percent": "10", "basis": "small_micro",
                                    "evaluated_fen": "91800000", "declaration": {
                                        "kind": "small_micro", "share_percent": None, "related": False,
                                        "statement_sha256": SHA}}
    assert detail["sme"][fourth]["rate_percent"] == "0"
    assert session.summary["price"]["scores"][third] == "30.00"
    # 918,000 / 1,000,000 × 30 = 27.54
    assert session.summary["price"]["scores"][low] == "27.54"
    assert session.bidders.get(code=third).price_fen == 102_000_000


LOW = {"abnormally_low": {"basis": "mean_of_others", "percent": "98.5", "answer_minutes": 30}}


def test_an_abnormally_low_price_is_explained_and_the_committee_decides_with_reasons():
    """1,000,000 is below 98.5 % of the others' mean (1,020,000 → 1,004,700): flagged; 1,010,000 is not."""
    sc = build(settings=LOW)
    drive_to(sc, "scoring")
    low = by_price(sc)[0]
    flags = session_of(sc).price_review["low_price"]["flags"]
    assert list(flags) == [low] and flags[low]["threshold_fen"]["exact"] == "100470000"
    chair = chair_of(sc)
    other = next(m for m in sc.members if m != chair)
    drive = lambda: drive_to(sc, "summary")  # noqa: E731
    assert code_of(drive) == "invalid_state"  # the flag is undecided
    assert code_of(expert_act, sc, chair, pr.do_low_price_decide, bidder=low, decision="accepted",
                   reasons="x") == "invalid_state"  # ask first
    assert code_of(expert_act, sc, other, pr.do_low_price_ask, bidder=low) == "invalid_state"  # the chair asks
    asked = expert_act(sc, chair, pr.do_low_price_ask, bidder=low)
    assert code_of(expert_act, sc, chair, pr.do_low_price_decide, bidder=low, decision="accepted",
                   reasons="成本说明可信") == "bad_request"  # awaiting the written explanation
    user = sc.bidder_users[low]
    c.do_answer(asked["clarification"], Call(user=user, role="bidder", actor=Actor.of(user), now=clock.now(),
                                             payload={"answer": "我公司自有设备，详见成本分析表。"}))
    assert code_of(expert_act, sc, chair, pr.do_low_price_decide, bidder=low, decision="accepted",
                   reasons=" ") == "bad_request"  # reasons are required
    expert_act(sc, chair, pr.do_low_price_decide, bidder=low, decision="accepted", reasons="成本分析表可信，设备自有")
    decision = session_of(sc).price_review["low_price"]["flags"][low]["decision"]
    assert decision["decision"] == "accepted" and decision["answered"] is True and decision["by"] == chair
    assert Clarification.objects.get(pk=asked["clarification"]).purpose == "low_price"
    assert AuditEntry.objects.filter(action="evaluation.low_price.decided").count() == 1
    drive_to(sc, "summary")
    assert low in session_of(sc).summary["price"]["scores"]


def test_without_an_answer_in_time_the_bid_is_rejected_as_the_tender_says():
    sc = build(settings=LOW)
    drive_to(sc, "scoring")
    low = by_price(sc)[0]
    chair = chair_of(sc)
    expert_act(sc, chair, pr.do_low_price_ask, bidder=low)
    later = clock.now() + timedelta(minutes=31)
    from evaluation.testing import act
    assert code_of(act, sc, sc.experts[chair], "expert", pr.do_low_price_decide, sc.venue_of(chair), now=later,
                   bidder=low, decision="accepted", reasons="x") == "bad_request"  # no_answer: reject
    act(sc, sc.experts[chair], "expert", pr.do_low_price_decide, sc.venue_of(chair), now=later, bidder=low,
        decision="rejected", reasons="未在规定时间内提供书面说明（87号令第六十条）")
    assert session_of(sc).bidders.get(code=low).rejected == ["abnormally_low"]
    drive_to(sc, "summary")
    scores = session_of(sc).summary["price"]["scores"]
    assert low not in scores and scores[by_price(sc)[1]] == "30.00"  # the next lowest is the benchmark


def test_going_back_to_the_compliance_review_clears_the_price_review():
    sc = build(settings=LOW)
    drive_to(sc, "scoring")
    session = session_of(sc)
    assert session.price_review["low_price"]["flags"]
    chair = chair_of(sc)
    expert_act(sc, chair, a.do_request_back, to="compliance", reason="复核")
    from evaluation.testing import act
    act(sc, sc.supervisor, "supervisor", a.do_decide_back, approve=True)
    assert session_of(sc).price_review == {}


def test_price_exact_values_read_back_as_fractions():
    sc = build()
    drive_to(sc, "summary")
    exact = session_of(sc).summary["price"]["exact"]
    assert all(Fraction(v) > 0 for v in exact.values())


def test_the_report_shows_benchmark_deviation_rule_and_rounding_for_each_price_score(tmp_path):
    """A declared rule (trimmed mean, stepped deductions, the deviation kept to 2 places): the PDF
    carries everything needed to recompute a price score by hand."""
    rule = {"benchmark": {"kind": "mean", "trim": [{"from": 4, "high": 1, "low": 0}]},
            "score": {"kind": "deviation", "deduction": "stepped", "above": "2", "below": "1",
                      "deviation_rounding": {"mode": "ROUND_HALF_UP", "decimals": 2}}}
    sc = build(settings={"price_rule": rule})
    drive_to(sc, "signing")
    session = session_of(sc)
    detail = session.report["summary"]["price"]["detail"]
    # 4 bids: the highest (1,030,000) dropped; mean = (1,000,000 + 1,010,000 + 1,020,000) / 3 = 1,010,000
    assert detail["benchmark"]["exact"] == "101000000" and detail["dropped"] == ["103000000"]
    low = by_price(sc)[0]
    # 1,000,000: d = −0.990099…% → −0.99 → one started step below → 30 − 1 = 29
    assert detail["bidders"][low]["deviation_used"]["exact"] == "-99/100"
    assert detail["bidders"][low]["deduction"]["exact"] == "1" and detail["bidders"][low]["rounded"] == "29.00"
    from evaluation.report import pdf_context
    from documents.pdf import render_pdf

    from .test_api_and_access import pdf_text

    text = pdf_text(render_pdf("documents/evaluation_report.html", pdf_context(session)), tmp_path)
    for expected in ("评标基准价：1,010,000.00元", "去掉最高1个、最低0个报价", "不足一档按一档计",
                     "偏差率先保留2位小数（四舍五入）再计分", "得分保留2位小数（四舍五入），只舍入一次", "-0.9900"):
        assert "".join(expected.split()) in text, expected
