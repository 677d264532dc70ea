"""The price review in a session (issue 13): what happens to prices between the compliance review
and the price score. Same contract as ``actions``: session row locked, audit entries and room
events in the caller's transaction. The rules are ``rules.price`` (the ceiling), ``rules.sme``,
``rules.abnormal`` and ``rules.bills``; this module records what they find and what the
committee decides, in ``EvaluationSession.price_review``:

    {"ceiling_fen": int | None, "above_ceiling": {code: price_fen},
     "sme": {"rule": {...} | None, "declarations": {code: {...} | None}},
     "low_price": {"rule": {...} | None, "flags": {code: {flag…, "clarification": id | None,
                   "decision": {"decision", "reasons", "by", "at", "answered"} | None}}},
     "corrections": {code: {"proposed_fen", "basis", "clarification", "status", "price_fen"}}}

- Leaving the compliance review, bids above the ceiling (最高投标限价) are rejected with
  ``above_ceiling`` (实施条例 51) and the abnormally-low flags are computed on the remaining prices.
- The chair asks a flagged bidder to explain (``eval.low_price_ask``: a clarification with the
  tender's reply time) and records the committee's decision with reasons (``eval.low_price_decide``);
  a rejected bid leaves with ``abnormally_low`` (87号令 Art. 60).
- 清标 (``actions_bills``) proposes corrections; a correction the bidder confirms replaces the bid
  price in the evaluation; a declined or unanswered one rejects the bid (``correction_declined``).
- Leaving scoring needs every flag decided and every correction answered or expired.
"""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction
from typing import Any

from common.errors import BadRequest

from . import questions, state as st
from .workflow import Call, audit, bidder_by_code, check_step, invalid, seated_member
from .models import Clarification
from .rules import abnormal, price, sme, steps
from .rules.price_rule import rule_from_settings

REVIEW_STEPS = (steps.Step.SCORING,)


def _rule(session) -> Any:
    return rule_from_settings(session.rules_settings)


def ceiling_rejections(session, passed: list[str]) -> dict[str, int]:
    """The bids among ``passed`` whose price is above the tender's ceiling (实施条例 51)."""
    ceiling = _rule(session).ceiling_fen
    prices = dict(session.bidders.filter(code__in=passed).values_list("code", "price_fen"))
    return price.reject_above_ceiling(prices, ceiling)


def _declaration(raw: Any) -> dict[str, Any] | None:
    """The bid's 中小企业声明函 as announced, parsed; a malformed one is recorded as such."""
    if raw is None:
        return None
    try:
        return sme.parse_declaration(raw).as_dict()
    except BadRequest as exc:
        return {"invalid": exc.message}


def open_review(session, call: Call, *, above: dict[str, int]) -> st.Patch:
    """After the compliance review: record the ceiling's rejections, the SME declarations and the
    abnormally-low flags of the valid bids."""
    rules = session.rules_settings
    valid = dict(session.bidders.filter(rejected__isnull=True).values_list("code", "price_fen"))
    announced = dict(session.bidders.values_list("code", "announced"))
    low_rule = abnormal.parse_low_price_rule(rules["abnormally_low"]) if rules.get("abnormally_low") else None
    flags: dict[str, Any] = {}
    if low_rule is not None and valid:
        benchmark = None
        if low_rule.basis == "benchmark":
            benchmark = price.score_prices(rules, valid, k_percent=session.k_percent or None).benchmark
        for flag in abnormal.flag_low_prices(low_rule, valid, benchmark=benchmark, ceiling_fen=_rule(session).ceiling_fen):
            flags[flag.bidder] = {**flag.as_dict(), "clarification": None, "decision": None}
    sme_rule = sme.parse_sme_rule(rules["sme"]) if rules.get("sme") else None
    session.price_review = {
        "ceiling_fen": _rule(session).ceiling_fen, "above_ceiling": dict(sorted(above.items())),
        "sme": {"rule": None if sme_rule is None else sme_rule.as_dict(),
                "declarations": {b: _declaration((announced[b] or {}).get("sme_declaration")) for b in sorted(valid)}},
        "low_price": {"rule": None if low_rule is None else low_rule.as_dict(), "flags": flags},
        "corrections": {}}
    session.save(update_fields=["price_review"])
    audit(session, "evaluation.price_review.opened", call, above_ceiling=session.price_review["above_ceiling"],
          flagged=sorted(flags), sme=session.price_review["sme"]["declarations"])
    return [(["price_review"], st.section_price_review(session))]


def chair_in_scoring(session, call: Call):
    """The calling member, who must be the chair, while scoring."""
    state = check_step(session, *REVIEW_STEPS)
    member = seated_member(session, call.user)
    if state.chair != member.code:
        raise invalid("the chair records what the committee decides")
    return member


def _flag(session, code: Any) -> tuple[Any, dict[str, Any]]:
    bidder = bidder_by_code(session, code)
    flag = (session.price_review or {}).get("low_price", {}).get("flags", {}).get(bidder.code)
    if flag is None:
        raise invalid("this price is not flagged as abnormally low")
    return bidder, flag


def do_low_price_ask(session, venue_id: int, call: Call) -> dict:
    """Ask the flagged bidder to show in writing that its price is reasonable (87号令 Art. 60)."""
    member = chair_in_scoring(session, call)
    bidder, flag = _flag(session, call.payload.get("bidder"))
    if flag["clarification"] is not None or flag["decision"] is not None:
        raise invalid("the bidder was asked already")
    rule = session.price_review["low_price"]["rule"]
    question = call.payload.get("question") or questions.LOW_PRICE
    if not isinstance(question, str) or len(question) > 5000:
        raise BadRequest("'question' is a text of at most 5000 characters")
    clar = Clarification.objects.create(session=session, bidder=bidder, question=question.strip(), asked_by=member,
                                        asked_at=call.now, purpose="low_price",
                                        deadline=call.now + timedelta(minutes=rule["answer_minutes"]))
    flag["clarification"] = clar.pk
    session.save(update_fields=["price_review"])
    audit(session, "evaluation.low_price.asked", call, bidder=bidder.code, clarification=clar.pk,
          deadline=clar.deadline, asked_by=member.code)
    st.broadcast(session, "eval.price_review", [(["clarifications", str(clar.pk)], st.clarification_view(clar)),
                                                (["price_review"], st.section_price_review(session))], now=call.now)
    return {"clarification": clar.pk, "deadline": st._t(clar.deadline)}


def do_low_price_decide(session, venue_id: int, call: Call) -> dict:
    """The committee's decision on a flagged price, with reasons; ``rejected`` makes the bid invalid."""
    member = chair_in_scoring(session, call)
    bidder, flag = _flag(session, call.payload.get("bidder"))
    if flag["decision"] is not None:
        raise invalid("the committee has decided on this price")
    if flag["clarification"] is None:
        raise invalid("ask the bidder to explain first (eval.low_price_ask)")
    clar = Clarification.objects.get(pk=flag["clarification"])
    rule = abnormal.parse_low_price_rule(session.price_review["low_price"]["rule"])
    answered = clar.answered_at is not None
    decision = abnormal.check_decision(rule, decision=call.payload.get("decision"), reasons=call.payload.get("reasons"),
                                       answered=answered, deadline_passed=call.now > clar.deadline)
    flag["decision"] = {"decision": decision, "reasons": call.payload["reasons"].strip(), "by": member.code,
                        "at": st._t(call.now), "answered": answered}
    session.save(update_fields=["price_review"])
    if decision == "rejected":
        bidder.rejected = ["abnormally_low"]
        bidder.save(update_fields=["rejected"])
    audit(session, "evaluation.low_price.decided", call, bidder=bidder.code, **flag["decision"])
    st.broadcast(session, "eval.price_review", [(["price_review"], st.section_price_review(session)),
                                                (["bidders"], st.section_bidders(session))], now=call.now)
    return {"bidder": bidder.code, "decision": decision}


def settle_corrections(session, call: Call) -> list[str]:
    """Corrections whose reply time is over without a confirmation reject their bid (R12 Art. 19)."""
    rejected = []
    for code, entry in (session.price_review or {}).get("corrections", {}).items():
        if entry["status"] != "proposed":
            continue
        clar = Clarification.objects.get(pk=entry["clarification"])
        if call.now > clar.deadline:
            entry["status"] = "expired"
            session.bidders.filter(code=code).update(rejected=["correction_declined"])
            rejected.append(code)
            audit(session, "evaluation.correction.expired", call, bidder=code, clarification=clar.pk)
    if rejected:
        session.save(update_fields=["price_review"])
    return rejected


def check_review_done(session, call: Call) -> None:
    """Leaving scoring: every flag decided, every proposed correction confirmed, declined or expired."""
    settle_corrections(session, call)
    review = session.price_review or {}
    open_flags = sorted(b for b, f in review.get("low_price", {}).get("flags", {}).items() if f["decision"] is None)
    waiting = sorted(b for b, c in review.get("corrections", {}).items() if c["status"] == "proposed")
    if open_flags or waiting:
        raise invalid("the committee decides on every abnormally low price, and every correction awaits "
                      "the bidder's confirmation or its deadline", low_price=open_flags, corrections=waiting)


def scoring_prices(session, prices: dict[str, int]) -> tuple[dict[str, Fraction], dict[str, Fraction], dict]:
    """(the prices the score uses, the SME price-score factors, the record): a confirmed correction
    replaces the bid price (R12 Art. 19), then the SME deduction makes the evaluated price
    (46号 Art. 9); the bid price itself never changes."""
    review = session.price_review or {}
    corrected = {b: c["price_fen"] for b, c in review.get("corrections", {}).items()
                 if c["status"] == "confirmed" and b in prices}
    base = {b: corrected.get(b, p) for b, p in prices.items()}
    rules = session.rules_settings
    sme_rule = sme.parse_sme_rule(rules["sme"]) if rules.get("sme") else None
    declared = review.get("sme", {}).get("declarations", {})
    declarations = {b: sme.parse_declaration(d) if d and "invalid" not in d else None for b, d in declared.items()}
    result = sme.apply(sme_rule, base, declarations)
    return result.evaluated, result.score_factor, {"corrected_fen": corrected, "sme": result.record}


