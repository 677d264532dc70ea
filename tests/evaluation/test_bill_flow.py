"""清标 in a session (evaluation/actions_bills.py): the platform checks every valid bid's priced bill,
the chair puts a proposed correction (评标委员会和评标方法暂行规定 Art. 19) to the bidder, and only a
confirmed correction changes the price the evaluation scores; a declined one rejects the bid."""

from __future__ import annotations

import hashlib
from decimal import Decimal as D

import pytest

from common.actor import Actor
from audit.models import AuditEntry
from common import clock
from common.errors import PlatformError
from evaluation import actions_bills as ab
from evaluation import actions_clarify as c
from evaluation.models import BidBill, Clarification, EvaluationSession
from evaluation.rules.daxie import to_words
from evaluation.testing import Call, build, drive_to, expert_act, main_staff_act
from evaluation.testing_bills import LAYOUT, priced, restate, tender_bill, to_xlsx

pytestmark = pytest.mark.django_db
pytest.importorskip("openpyxl")


def code_of(fn, *args, **kwargs) -> str:
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def store(lot, org, data):
    BidBill.objects.create(lot=lot, bidder_org=org, data=data, sha256=hashlib.sha256(data).hexdigest())


def setup_bills(sc):
    """The tender's bill and one priced bill per bid; the bids' prices are their bills' totals.
    Bill of the first bid: one line total 10 元 too high (sums follow it); of the second: the amount
    in words 1 元 above the figures. The others are clean."""
    tender = tender_bill(60, sections=3, seed=11)
    store(sc.lot, None, to_xlsx(tender, with_prices=False))
    codes = sorted(sc.bidders)
    for n, code in enumerate(codes):
        bill = priced(tender, seed=20 + n)
        if n == 0:
            bill.sections[0][1][5].total += D(10)
            restate(bill)
        if n == 1:
            bill.words = to_words(bill.price_fen + 100)
        bidder = sc.bidders[code]
        bidder.price_fen = bill.price_fen
        bidder.save(update_fields=["price_fen"])
        store(sc.lot, bidder.bidder_org, to_xlsx(bill))
    return codes


def answer(sc, clarification, code, **payload):
    user = sc.bidder_users[code]
    return c.do_answer(clarification, Call(user=user, role="bidder", actor=Actor.of(user), now=clock.now(),
                                           payload={"answer": "确认" if payload.get("confirm") else "不确认", **payload}))


def test_the_bill_check_reports_and_only_a_confirmed_correction_changes_the_scored_price():
    sc = build(settings={"bill_layout": LAYOUT})
    wrong_line, wrong_words, clean, _ = setup_bills(sc)
    drive_to(sc, "compliance")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    not_chair = next(m for m in sorted(sc.members) if m != chair)
    assert code_of(expert_act, sc, not_chair, ab.do_check_bills) == "invalid_state"  # the chair or main staff
    result = main_staff_act(sc, ab.do_check_bills)
    assert result == {"checked": sorted(sc.bidders), "missing": [], "problems": {}}
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    reports = {r.bidder.code: r.report for r in session.bill_reports.select_related("bidder")}
    assert reports[wrong_line]["counts"] == {"line_arithmetic": 1}
    assert reports[wrong_line]["proposed"]["price_fen"] == sc.bidders[wrong_line].price_fen - 1000
    assert reports[wrong_words]["counts"] == {"form_price_mismatch": 1, "words_mismatch": 1}
    assert reports[clean]["counts"] == {} and reports[clean]["proposed"] is None
    assert AuditEntry.objects.filter(action="evaluation.bills.checked").count() == 1

    drive_to(sc, "scoring")
    assert code_of(expert_act, sc, chair, ab.do_propose_correction, bidder=clean) == "invalid_state"
    first = expert_act(sc, chair, ab.do_propose_correction, bidder=wrong_line)
    second = expert_act(sc, chair, ab.do_propose_correction, bidder=wrong_words)
    assert code_of(expert_act, sc, chair, ab.do_propose_correction, bidder=wrong_line) == "invalid_state"
    assert code_of(drive_to, sc, "summary") == "invalid_state"  # awaiting the bidders' confirmations
    assert code_of(answer, sc, first["clarification"], wrong_line) == "bad_request"  # confirm is required
    answer(sc, first["clarification"], wrong_line, confirm=True)
    answer(sc, second["clarification"], wrong_words, confirm=False)
    assert Clarification.objects.get(pk=first["clarification"]).confirmed is True
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    assert session.price_review["corrections"][wrong_line]["status"] == "confirmed"
    assert session.bidders.get(code=wrong_words).rejected == ["correction_declined"]
    drive_to(sc, "summary")
    detail = EvaluationSession.objects.get(pk=sc.session.pk).summary["price"]["detail"]
    corrected = sc.bidders[wrong_line].price_fen - 1000
    assert detail["corrected_fen"] == {wrong_line: corrected}
    assert detail["bidders"][wrong_line]["price"]["exact"] == str(corrected)
    assert wrong_words not in detail["bidders"]
    # the bid price on record is unchanged: the correction binds through the confirmation only
    assert session.bidders.get(code=wrong_line).price_fen == sc.bidders[wrong_line].price_fen
    assert AuditEntry.objects.filter(action__in=["evaluation.correction.confirmed",
                                                 "evaluation.correction.declined"]).count() == 2


def test_a_bill_check_needs_the_layout_and_the_tender_bill():
    sc = build()
    drive_to(sc, "compliance")
    assert code_of(main_staff_act, sc, ab.do_check_bills) == "invalid_state"


def test_bills_named_by_the_layout_come_from_the_packages_and_a_bid_without_one_is_named():
    """With ``document`` in the layout, a bid without a filed bill is looked up in its decrypted
    package (bidding.opening.documents); these bids came in another way (no opening), so each is
    reported as not decrypted rather than guessed."""
    sc = build(settings={"bill_layout": {**LAYOUT, "document": "工程量清单.xlsx"}})
    codes = setup_bills(sc)
    BidBill.objects.filter(lot=sc.lot, bidder_org=sc.bidders[codes[-1]].bidder_org).delete()
    drive_to(sc, "compliance")
    result = main_staff_act(sc, ab.do_check_bills)
    assert result == {"checked": codes[:-1], "missing": [codes[-1]], "problems": {codes[-1]: "not_decrypted"}}
    entry = AuditEntry.objects.get(action="evaluation.bills.checked")
    assert '"problems":{"%s":"not_decrypted"}' % codes[-1] in entry.body
