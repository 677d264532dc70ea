"""经评审的最低投标价法 end to end in a session: the chair records the committee's adjustments of each
valid bid with reasons, every venue sees them, the summary and the ranking use the evaluated price,
and the report carries the price-comparison table."""

from __future__ import annotations

import pytest

from audit.models import AuditEntry
from common.errors import PlatformError
from evaluation import actions as a
from evaluation import actions_price as p
from evaluation.models import EvaluationSession
from evaluation.report import pdf_context
from evaluation.testing import build, drive_to, expert_act, main_staff_act

from .test_session_flow import verified

pytestmark = pytest.mark.django_db


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def test_the_ranking_follows_the_evaluated_prices_the_committee_agreed(db, tmp_path):
    sc = build(settings={"method": "lowest_evaluated_price"})
    drive_to(sc, "scoring")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    # Bid prices (testing.build): 1,000,000.00 / 1,010,000.00 / 1,020,000.00 / 1,030,000.00 元.
    a0, a1, a2, a3 = sorted(sc.bidders, key=lambda b: sc.bidders[b].price_fen)
    other = next(c for c in sc.members if c != chair)
    entry = [{"amount_fen": 3_500_000, "reason": "付款条件偏离，按招标文件折算"}]
    assert code_of(expert_act, sc, other, p.do_adjust_price, bidder=a0, adjustments=entry) == "forbidden"
    assert code_of(expert_act, sc, chair, p.do_adjust_price, bidder=a0,
                   adjustments=[{"amount_fen": "35000.00", "reason": "x"}]) == "bad_request"  # fen, integers
    assert code_of(expert_act, sc, chair, p.do_adjust_price, bidder=a0,
                   adjustments=[{"amount_fen": -100_000_000, "reason": "x"}]) == "bad_request"  # stays > 0
    _, pushes = verified(sc, lambda: expert_act(sc, chair, p.do_adjust_price, bidder=a0, adjustments=entry))
    assert all(any(f["event"] == "eval.adjustments" for f in frames) for frames in pushes.values())
    expert_act(sc, chair, p.do_adjust_price, bidder=a2, adjustments=[
        {"amount_fen": 500_000, "reason": "漏项按其他投标最高价补足"}, {"amount_fen": -1_000_000, "reason": "工期提前"}])
    expert_act(sc, chair, p.do_adjust_price, bidder=a3, adjustments=[])
    assert code_of(main_staff_act, sc, a.do_next) == "invalid_state"  # a1 has no entry yet
    expert_act(sc, chair, p.do_adjust_price, bidder=a1, adjustments=[])
    main_staff_act(sc, a.do_next)
    summary = EvaluationSession.objects.get(pk=sc.session.pk).summary
    # a0: 100,000,000 + 3,500,000 = 103,500,000; a2: 102,000,000 + 500,000 − 1,000,000 = 101,500,000.
    assert summary["evaluated"] == {a0: 103_500_000, a1: 101_000_000, a2: 101_500_000, a3: 103_000_000}
    assert summary["price_table"][a2]["adjustment_fen"] == -500_000
    assert code_of(expert_act, sc, chair, p.do_adjust_price, bidder=a1, adjustments=[]) == "invalid_state"
    main_staff_act(sc, a.do_next)
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    assert [r["bidder"] for r in session.ranking["order"]] == [a1, a2, a3, a0]
    assert session.ranking["candidates"] == [a1, a2, a3]
    assert AuditEntry.objects.filter(action="evaluation.price.adjusted").count() == 4  # one per bid
    main_staff_act(sc, a.do_next)
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    assert session.report["adjustments"][a0]["items"] == entry
    ctx = pdf_context(session)
    assert [r["evaluated"] for r in ctx["ranking"]] == ["1,010,000.00", "1,015,000.00", "1,030,000.00",
                                                        "1,035,000.00"]
    from documents.pdf import render_pdf

    from .test_api_and_access import pdf_text

    text = pdf_text(render_pdf("documents/evaluation_report.html", ctx), tmp_path)
    for expected in ("价格比较一览表", "付款条件偏离，按招标文件折算：+35,000.00", "工期提前：−10,000.00", "1,035,000.00"):
        assert "".join(expected.split()) in text, expected


def test_adjustments_belong_to_the_lowest_evaluated_price_method(scenario):
    sc = scenario  # comprehensive scoring
    drive_to(sc, "scoring")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    assert code_of(expert_act, sc, chair, p.do_adjust_price, bidder="B01", adjustments=[]) == "invalid_state"
