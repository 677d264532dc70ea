"""The compliance review, scoring, the summary (aggregation and alerts), returns for correction and
the ranking. Same contract as ``actions``: called with the session row locked, inside the
transaction that also writes the audit entry and the room events.

The arithmetic is ``evaluation.rules`` only; this module reads and writes rows. What every venue
sees while experts score is ``progress`` (how many bidders each member has scored); the scores
themselves stay on each expert's own stream until the summary step.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from common.errors import BadRequest

from . import state as st
from .actions_price_review import ceiling_rejections, open_review, scoring_prices
from .models import ComplianceVote, Correction, ScoreSheet
from .rules import aggregate as agg
from .rules import alerts, compliance, price, ranking, steps
from .rules.exact import approx_text, ratio_text, to_fraction
from .rules.numbers import Rounding, to_decimal
from .workflow import (Call, audit, bidder_by_code, check_step, current_state, invalid,
                       member_by_code, member_of, seated_member)


def items_of(session) -> tuple[agg.Item, ...]:
    return agg.parse_items(session.scoring["items"])


def valid_bidders(session):
    return session.bidders.filter(rejected__isnull=True).order_by("code")


# --- compliance -----------------------------------------------------------------------------------

def do_vote_compliance(session, venue_id: int, call: Call) -> dict:
    check_step(session, steps.Step.COMPLIANCE)
    member = seated_member(session, call.user)
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    criterion, passed = call.payload.get("criterion"), call.payload.get("passed")
    reason = call.payload.get("reason") or ""
    if criterion not in session.scoring["criteria"] or not isinstance(passed, bool):
        raise BadRequest("'criterion' is one of the tender's and 'passed' true or false",
                         details={"criteria": session.scoring["criteria"]})
    if not isinstance(reason, str) or len(reason) > 2000 or (not passed and not reason.strip()):
        raise BadRequest("a failing vote states its reason (at most 2000 characters)")
    ComplianceVote.objects.update_or_create(member=member, bidder=bidder, criterion=criterion, defaults={
        "session": session, "passed": passed, "reason": reason.strip(), "at": call.now})
    audit(session, "evaluation.compliance.voted", call, member=member.code, bidder=bidder.code,
          criterion=criterion, passed=passed, reason=reason.strip())
    st.to_member(session, member, "eval.my_compliance",
                 [(["votes", member.code, bidder.code, criterion], {"passed": passed, "reason": reason.strip()})],
                 now=call.now)
    return {"bidder": bidder.code, "criterion": criterion, "passed": passed}


def decide_compliance(session, call: Call) -> st.Patch:
    """Leaving the compliance step: majority per criterion (F87 61); rejected bids leave. Fewer
    than 3 valid bids (none included) leave the committee to decide whether to reject all bids
    (``actions_outcome``) before anything is scored. A replaced member's votes are void."""
    members = list(session.members.values_list("code", flat=True))
    votes: dict[str, dict[str, dict[str, bool]]] = {b: {} for b in
                                                    session.bidders.values_list("code", flat=True)}
    rows = session.compliance_votes.filter(member__replaced_at__isnull=True)
    for b, c, m, p in rows.values_list("bidder__code", "criterion", "member__code", "passed"):
        votes[b].setdefault(c, {})[m] = p
    result = compliance.decide(votes, experts=members, criteria=session.scoring["criteria"])
    # Bids above the ceiling price are rejected before anything is scored (实施条例 51).
    above = ceiling_rejections(session, list(result.passed))
    passed = [b for b in result.passed if b not in above]
    rejected = {**{b: list(c) for b, c in result.rejected.items()}, **{b: ["above_ceiling"] for b in above}}
    session.compliance = {"passed": passed, "rejected": rejected,
                          "tallies": {b: {c: list(t) for c, t in per.items()} for b, per in result.tallies.items()},
                          "may_reject_all": len(passed) < 3 if above else result.may_reject_all}
    session.save(update_fields=["compliance"])
    for code, failed in rejected.items():
        session.bidders.filter(code=code).update(rejected=list(failed))
    audit(session, "evaluation.compliance.decided", call, **session.compliance)
    return [(["compliance"], session.compliance)] + open_review(session, call, above=above)


# --- scores ---------------------------------------------------------------------------------------

def _check_values(items, raw: Any) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BadRequest("'values' maps item ids to scores")
    by_id = {i.id: i for i in items}
    problems = []
    out = {}
    for item_id in sorted(set(raw) - set(by_id)):
        problems.append({"item": item_id, "problem": "unknown_item"})
    for item in items:
        if item.id not in raw:
            problems.append({"item": item.id, "problem": "missing"})
            continue
        value = to_decimal(raw[item.id], what=f"score for {item.id}")
        problem = item.problem(value)
        if problem:
            problems.append({"item": item.id, "problem": problem, "max": str(item.max), "step": str(item.step)})
        out[item.id] = str(value)
    if problems:
        raise BadRequest("the scores are not valid", details={"problems": problems})
    return out


def do_score(session, venue_id: int, call: Call) -> dict:
    """An expert's sheet for one valid bidder, while scoring (replaced until the step ends)."""
    state = current_state(session)
    steps.check_scores_open(state)
    if state.step != steps.Step.SCORING:
        raise invalid("in the summary a score changes only after a return (eval.correct)")
    from .actions_outcome import check_reject_all_decided

    check_reject_all_decided(session)
    member = seated_member(session, call.user)
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    if bidder.rejected:
        raise invalid("this bid was rejected in the compliance review")
    values = _check_values(items_of(session), call.payload.get("values"))
    total = call.payload.get("total")
    total = "" if total is None else str(to_decimal(total, what="total"))
    sheet, created = ScoreSheet.objects.update_or_create(member=member, bidder=bidder, defaults={
        "session": session, "values": values, "submitted_total": total, "at": call.now})
    audit(session, "evaluation.score.submitted", call, member=member.code, bidder=bidder.code,
          values=values, total=total or None)
    st.to_member(session, member, "eval.my_sheet", [(["sheets", member.code, bidder.code], st.sheet_view(sheet))],
                 now=call.now)
    if created:
        count = ScoreSheet.objects.filter(member=member).count()
        st.broadcast(session, "eval.progress", [(["progress", member.code], count)], now=call.now)
    return {"bidder": bidder.code, "saved": True}


def load_sheets(session, *, bidder: str | None = None
                ) -> tuple[dict[str, dict[str, dict[str, str]]], dict[str, dict[str, str]]]:
    """(sheets, submitted totals) keyed by member code then bidder code, valid bidders only (or
    ``bidder`` only)."""
    sheets: dict[str, dict[str, dict[str, str]]] = {m: {} for m in
                                                    session.members.values_list("code", flat=True)}
    totals: dict[str, dict[str, str]] = {}
    # A replaced member's sheets stay in the record and leave the aggregation (Reg 48).
    rows = ScoreSheet.objects.filter(session=session, bidder__rejected__isnull=True,
                                     member__replaced_at__isnull=True)
    if bidder is not None:
        rows = rows.filter(bidder__code=bidder)
    rows = rows.values_list("member__code", "bidder__code", "values", "submitted_total")
    for m, b, values, total in rows:
        sheets[m][b] = values
        if total:
            totals.setdefault(m, {})[b] = total
    return sheets, totals


def find_alerts(rules, items, sheets, totals) -> list[dict]:
    """Objective inconsistencies, outlying experts and arithmetic mismatches (``rules.alerts``)."""
    found = alerts.objective_alerts(items, sheets)
    raw_totals = agg.expert_raw_totals({e: {b: {i: Decimal(v) for i, v in vals.items()}
                                            for b, vals in per.items()} for e, per in sheets.items()})
    found += alerts.outlier_alerts(items, raw_totals, percent=rules.get("outlier_percent"),
                                   points=rules.get("outlier_points"))
    found += alerts.arithmetic_alerts(sheets, totals)
    return [a.as_dict() for a in sorted(found, key=alerts.Alert.sort_key)]


def _bidder_entry(r, settings) -> dict:
    """Components rounded for display; the exact total ("p/q") beside the rounded one that decides."""
    return {"per_expert": {e: approx_text(v) for e, v in r.per_expert.items()}, "kept": list(r.kept_experts),
            "dropped": list(r.dropped_experts),
            "categories": {c: str(settings.rounding.apply(v)) for c, v in r.categories.items()},
            "price": str(settings.rounding.apply(r.price)), "total": str(r.total),
            "total_exact": ratio_text(r.total_exact)}


def refresh_bidder(session, bidder: str, call: Call) -> st.Patch:
    """After a correction only this bidder's aggregate and alerts can change (the price scores do
    not depend on scores): recompute them alone and patch just those parts of the summary."""
    rules = session.rules_settings
    if rules["method"] == "lowest_evaluated_price":
        return compute_summary(session, call, require_complete=True)
    items = items_of(session)
    sheets, totals = load_sheets(session, bidder=bidder)
    settings = agg.AggregateSettings.from_settings(rules)
    price_exact = {bidder: to_fraction(session.summary["price"]["exact"][bidder])}
    result = agg.aggregate(items, sheets, experts=sorted(sheets), price_scores=price_exact, settings=settings)
    entry = _bidder_entry(result[bidder], settings)
    found = find_alerts(rules, items, sheets, totals)
    session.summary["bidders"][bidder] = entry
    session.summary["alerts"][bidder] = found
    session.save(update_fields=["summary"])
    audit(session, "evaluation.summary.refreshed", call, bidder=bidder, total=entry["total"], alerts=len(found))
    return [(["summary", "bidders", bidder], entry), (["summary", "alerts", bidder], found)]


def compute_summary(session, call: Call | None, *, require_complete: bool) -> st.Patch:
    """Aggregate, price scores and alerts from the sheets; stored on the session and returned as a
    patch. The sheets must be complete (``rules.aggregate`` refuses missing values with
    ``bad_request`` listing each); ``require_complete`` states that contract at the call sites."""
    rules = session.rules_settings
    items = items_of(session)
    sheets, totals = load_sheets(session)
    experts = sorted(sheets)
    bidders = list(valid_bidders(session).values_list("code", "price_fen"))
    prices = {code: fen for code, fen in bidders}
    summary: dict[str, Any] = {"method": rules["method"], "experts": experts}
    if rules["method"] == "lowest_evaluated_price":
        from .actions_price import evaluated_summary

        summary.update(evaluated_summary(session, prices))
    else:
        evaluated, factors, review = scoring_prices(session, prices)
        scored = price.score_prices(rules, evaluated, k_percent=session.k_percent or None)
        # 46号 Art. 9's price-score addition for works (1 otherwise): exact, before any rounding.
        exact = {b: v * factors[b] for b, v in scored.exact.items()}
        rounding = Rounding.from_settings(rules)
        settings = agg.AggregateSettings.from_settings(rules)
        result = agg.aggregate(items, sheets, experts=experts, price_scores=exact, settings=settings)
        summary["price"] = {"benchmark_fen": ratio_text(scored.benchmark),
                            "scores": {b: str(rounding.apply(v)) for b, v in sorted(exact.items())},
                            "exact": {b: ratio_text(v) for b, v in sorted(exact.items())},
                            "detail": {**scored.record(), **review,
                                       "score_factor": {b: ratio_text(f) for b, f in sorted(factors.items()) if f != 1}}}
        summary["bidders"] = {b: _bidder_entry(r, settings) for b, r in sorted(result.items())}
    found = find_alerts(rules, items, sheets, totals)
    summary["alerts"] = {b: [a for a in found if a["bidder"] == b] for b, _ in bidders}
    session.summary = summary
    session.save(update_fields=["summary"])
    if call is not None:
        audit(session, "evaluation.summary.computed", call, alerts=len(found),
              totals={b: v["total"] for b, v in summary.get("bidders", {}).items()},
              evaluated=summary.get("evaluated"))
    return [(["summary"], summary)]


def do_return_score(session, venue_id: int, call: Call) -> dict:
    """The chair returns a member's score for correction, for a reason the rules allow (F87 64)."""
    check_step(session, steps.Step.SUMMARY)
    chair = member_of(session, call.user)
    if current_state(session).chair != chair.code:
        raise invalid("only the chair returns a score")
    member = member_by_code(session, call.payload.get("member"))
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    item_id, reason = call.payload.get("item"), call.payload.get("reason")
    by_id = {i.id: i for i in items_of(session)}
    if item_id is not None and item_id not in by_id:
        raise BadRequest("unknown item")
    alerts.check_return(by_id.get(item_id), str(reason))
    sheet = ScoreSheet.objects.filter(member=member, bidder=bidder).first()
    if sheet is None:
        raise BadRequest("there is no score to return")
    sheet.returned = {"item": item_id, "reason": reason, "by": chair.code, "at": st._t(call.now)}
    sheet.save(update_fields=["returned"])
    audit(session, "evaluation.score.returned", call, member=member.code, bidder=bidder.code,
          item=item_id, reason=reason)
    st.broadcast(session, "eval.returned", [(["returned"], st.section_returned(session))], now=call.now)
    return {"member": member.code, "bidder": bidder.code, "returned": True}


def do_correct(session, venue_id: int, call: Call) -> dict:
    """The expert corrects a returned score; the correction is recorded and the summary recomputed."""
    state = check_step(session, steps.Step.SUMMARY)
    steps.check_scores_open(state)
    member = member_of(session, call.user)
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    sheet = ScoreSheet.objects.filter(member=member, bidder=bidder).first()
    if sheet is None or not sheet.returned:
        raise invalid("this score was not returned for correction")
    ret = sheet.returned
    item_id = call.payload.get("item")
    if ret["item"] is not None and item_id != ret["item"]:
        raise invalid("only the returned item can change", item=ret["item"])
    fields = ["values", "returned"]
    records = []
    if item_id is not None:
        new_sheets, record = alerts.correct(items_of(session), {member.code: {bidder.code: sheet.values}},
                                            expert=member.code, bidder=bidder.code, item_id=item_id,
                                            new_value=call.payload.get("value"), reason=ret["reason"],
                                            requested_by=ret["by"], now=call.now)
        sheet.values = {k: str(v) for k, v in new_sheets[member.code][bidder.code].items()}
        records.append(record)
    if "total" in call.payload:  # an arithmetic error in the stated total
        alerts.check_return(None, ret["reason"])
        old = sheet.submitted_total
        sheet.submitted_total = str(to_decimal(call.payload["total"], what="total"))
        fields.append("submitted_total")
        records.append(alerts.Correction(member.code, bidder.code, "total", ret["reason"], to_decimal(old or "0"),
                                         to_decimal(sheet.submitted_total), call.now, ret["by"]))
    if not records:
        raise BadRequest("give the corrected 'item' and 'value', or the 'total'")
    sheet.returned = None
    sheet.save(update_fields=fields)
    for r in records:
        Correction.objects.create(session=session, member=member, bidder=bidder, item=r.item, reason=r.reason,
                                  old=str(r.old), new=str(r.new), requested_by=r.requested_by, at=call.now)
        audit(session, "evaluation.score.corrected", call, **r.as_dict())
    summary = refresh_bidder(session, bidder.code, call)
    st.to_member(session, member, "eval.my_sheet", [(["sheets", member.code, bidder.code], st.sheet_view(sheet))],
                 now=call.now)
    st.broadcast(session, "eval.corrected", [(["returned"], st.section_returned(session)),
                                             (["corrections"], st.section_corrections(session))] + summary,
                 now=call.now)
    return {"bidder": bidder.code, "corrected": len(records)}


# --- ranking --------------------------------------------------------------------------------------

def compute_ranking(session, call: Call) -> st.Patch:
    """Leaving the summary: no open return; rank with the tie-breaks and the committed seed."""
    if session.sheets.filter(returned__isnull=False, member__replaced_at__isnull=True).exists():
        raise invalid("a returned score has not been corrected")
    if session.summary is None:
        raise invalid("no summary")
    rules = session.rules_settings
    prices = dict(valid_bidders(session).values_list("code", "price_fen"))
    seed = bytes.fromhex(session.tie_seed_hex)
    summary = session.summary
    tender_keys = []
    if rules.get("tie_rule") in ("technical", "business") and "bidders" in summary:
        tender_keys = [(rules["tie_rule"], {b: Decimal(v["categories"].get(rules["tie_rule"], "0"))
                                            for b, v in summary["bidders"].items()})]
    if rules["method"] == "lowest_evaluated_price":
        result = ranking.rank_lowest_evaluated(summary["evaluated"], prices, tender_keys=tender_keys,
                                               seed=seed, candidates=rules.get("candidates", 3))
    else:
        totals = {b: Decimal(v["total"]) for b, v in summary["bidders"].items()}
        result = ranking.rank_by_score(totals, prices, tender_keys=tender_keys, seed=seed,
                                       candidates=rules.get("candidates", 3))
    session.ranking = {"order": [{"bidder": r.bidder, "rank": r.rank, "decided_by": r.decided_by}
                                 for r in result.order],
                       "candidates": list(result.candidates), "draw_used": result.draw_used,
                       "tie_seed_commitment": session.tie_seed_commitment}
    session.save(update_fields=["ranking"])
    audit(session, "evaluation.ranking.decided", call, **session.ranking)
    return [(["ranking"], session.ranking)]
