"""清标 in a session: the platform checks every valid bid's priced bill against the tender's bill
(``bill_reader``, ``rules.bills``) and reports to the committee; the chair may then put a proposed
correction (评标委员会和评标方法暂行规定 Art. 19) to the bidder, who confirms or declines it through
the clarification channel (``actions_clarify.do_answer`` with ``confirm``). Advisory: the reports
change nothing; only a confirmed correction changes the price the evaluation uses, and a declined
or unanswered one rejects the bid (``actions_price_review``). Same contract as ``actions``."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from common.errors import BadRequest

from . import questions, state as st
from .workflow import MAIN_STAFF, Call, audit, bidder_by_code, check_step, invalid, seated_member
from .actions_price_review import chair_in_scoring
from .bill_intake import bills_from_packages
from .bill_reader import check_bill, read_tender_bill
from .models import BidBill, BillReport, Clarification
from .rules import bills, steps

CHECK_STEPS = (steps.Step.COMPLIANCE, steps.Step.SCORING)


def do_check_bills(session, venue_id: int, call: Call) -> dict:
    """Run 清标 over the valid bids' bills (the chair or the main venue's staff)."""
    state = check_step(session, *CHECK_STEPS)
    if call.role != MAIN_STAFF and state.chair != seated_member(session, call.user).code:
        raise invalid("the chair or the main venue's staff runs the bill check")
    raw_layout = session.rules_settings.get("bill_layout")
    if raw_layout is None:
        raise invalid("the tender declares no bill layout")
    layout = bills.parse_layout(raw_layout)
    tender_row = BidBill.objects.filter(lot_id=session.lot_id, bidder_org__isnull=True).first()
    if tender_row is None:
        raise invalid("the tender's bill is not on file")
    tender = read_tender_bill(bytes(tender_row.data), layout)
    valid = list(session.bidders.filter(rejected__isnull=True).order_by("code"))
    problems = {}
    if layout.document is not None:
        by_org = bills_from_packages(session.lot_id, [b.bidder_org_id for b in valid], layout.document)
        problems = {b.code: by_org[b.bidder_org_id] for b in valid if b.bidder_org_id in by_org}
    on_file = {b.bidder_org_id: b for b in BidBill.objects.filter(lot_id=session.lot_id, bidder_org__isnull=False)}
    checked, missing = {}, []
    for bidder in valid:
        row = on_file.get(bidder.bidder_org_id)
        if row is None:
            missing.append(bidder.code)
            continue
        data = bytes(row.data)
        digest = hashlib.sha256(data).hexdigest()
        if digest != row.sha256:
            raise invalid("a stored bill does not match its hash", bidder=bidder.code)
        try:
            report = check_bill(data, layout, tender, announced_fen=bidder.price_fen)
        except BadRequest as exc:  # an unreadable bill is itself a finding for the committee
            report = {"lines": 0, "counts": {"bill_unreadable": 1}, "findings": {"bill_unreadable": [exc.details]},
                      "proposed": None}
        BillReport.objects.update_or_create(session=session, bidder=bidder, defaults={
            "bill_sha256": digest, "report": report, "checked_at": call.now})
        checked[bidder.code] = {"sha256": digest, "counts": report["counts"], "proposed": report["proposed"]}
    audit(session, "evaluation.bills.checked", call, tender_bill_sha256=tender_row.sha256, bills=checked,
          missing=missing, problems=problems)
    st.broadcast(session, "eval.bills", [(["bills"], st.section_bills(session))], now=call.now)
    return {"checked": sorted(checked), "missing": missing, "problems": problems}


def do_propose_correction(session, venue_id: int, call: Call) -> dict:
    """The chair puts the report's proposed correction to the bidder for confirmation."""
    member = chair_in_scoring(session, call)
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    report = BillReport.objects.filter(session=session, bidder=bidder).first()
    if bidder.rejected or report is None or report.report.get("proposed") is None:
        raise invalid("the bill check proposes no correction for this bid")
    corrections = (session.price_review or {}).setdefault("corrections", {})
    if bidder.code in corrections:
        raise invalid("this correction was put to the bidder already")
    minutes = call.payload.get("minutes", 30)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 5 <= minutes <= 7 * 24 * 60:
        raise BadRequest("'minutes' (the reply time) is an integer from 5 to 10080")
    proposed = report.report["proposed"]
    proposal = {"price_fen": proposed["price_fen"], "bid_price_fen": bidder.price_fen, "basis": proposed["basis"],
                "bill_sha256": report.bill_sha256, "source": proposed["source"]}
    clar = Clarification.objects.create(
        session=session, bidder=bidder, asked_by=member, asked_at=call.now, purpose="correction", proposal=proposal,
        deadline=call.now + timedelta(minutes=minutes),
        question=questions.correction(proposed["price_fen"]))
    corrections[bidder.code] = {"proposed_fen": proposed["price_fen"], "basis": proposed["basis"],
                                "clarification": clar.pk, "status": "proposed", "price_fen": proposed["price_fen"]}
    session.save(update_fields=["price_review"])
    audit(session, "evaluation.correction.proposed", call, bidder=bidder.code, clarification=clar.pk, **proposal)
    st.broadcast(session, "eval.price_review", [(["clarifications", str(clar.pk)], st.clarification_view(clar)),
                                                (["price_review"], st.section_price_review(session))], now=call.now)
    return {"clarification": clar.pk, "deadline": st._t(clar.deadline)}


def record_confirmation(session, clar, confirm: Any, call: Call) -> None:
    """The bidder's yes or no to a proposed correction (called by ``actions_clarify.do_answer``
    with the session row locked): yes binds it, no rejects the bid."""
    if not isinstance(confirm, bool):
        raise BadRequest("a correction is answered with 'confirm': true or false")
    clar.confirmed = confirm
    entry = session.price_review["corrections"][clar.bidder.code]
    entry["status"] = "confirmed" if confirm else "declined"
    session.save(update_fields=["price_review"])
    if not confirm:
        clar.bidder.rejected = ["correction_declined"]
        clar.bidder.save(update_fields=["rejected"])
    audit(session, f"evaluation.correction.{entry['status']}", call, bidder=clar.bidder.code, clarification=clar.pk,
          price_fen=entry["price_fen"])
    st.broadcast(session, "eval.price_review", [(["price_review"], st.section_price_review(session)),
                                                (["bidders"], st.section_bidders(session))], now=call.now)


