"""经评审的最低投标价法 in a session (R12 29–31): while scoring, the chair records the price
adjustments (折算/调整) the committee agreed for each valid bid, each with its reason
(``eval.adjust_price``); leaving scoring needs an entry for every valid bid (an empty list: none),
and the summary's evaluated prices — and so the ranking (``rules.ranking.rank_lowest_evaluated``)
— are bid price + adjustments. Same contract as ``actions``: session row locked, audit and room
events in the caller's transaction."""

from __future__ import annotations

from typing import Any

from . import state as st
from .rules import adjustments, steps
from .workflow import Call, audit, bidder_by_code, check_step, forbidden, invalid, seated_member

METHOD = "lowest_evaluated_price"


def do_adjust_price(session, venue_id: int, call: Call) -> dict:
    """The committee's adjustments of one bid, replacing any earlier entry for it."""
    from .actions_outcome import check_reject_all_decided

    state = check_step(session, steps.Step.SCORING)
    if session.rules_settings["method"] != METHOD:
        raise invalid("price adjustments belong to the lowest evaluated price method")
    check_reject_all_decided(session)
    chair = seated_member(session, call.user)
    if state.chair != chair.code:
        raise forbidden("the chair records the adjustments the committee agreed")
    bidder = bidder_by_code(session, call.payload.get("bidder"))
    if bidder.rejected:
        raise invalid("this bid was rejected in the compliance review")
    items = adjustments.parse_adjustments(call.payload.get("adjustments"))
    row = adjustments.price_table({bidder.code: bidder.price_fen}, {bidder.code: items})[bidder.code]
    # The evaluated price is not in the entry: with 暗标 it would give the price away before the
    # ranking. It appears in the summary.
    entry = {"items": [a.as_dict() for a in items], "total_fen": row.adjustment_fen, "by": chair.code,
             "at": st._t(call.now)}
    session.adjustments = {**(session.adjustments or {}), bidder.code: entry}
    session.save(update_fields=["adjustments"])
    audit(session, "evaluation.price.adjusted", call, bidder=bidder.code, adjustments=entry["items"],
          total_fen=row.adjustment_fen, evaluated_fen=row.evaluated_fen, by=chair.code)
    st.broadcast(session, "eval.adjustments", [(["adjustments", bidder.code], entry)], now=call.now)
    return {"bidder": bidder.code, "total_fen": row.adjustment_fen}


def evaluated_summary(session, prices: dict[str, int]) -> dict[str, Any]:
    """The summary's part for this method: evaluated prices and the price-comparison table."""
    recorded = {b: e for b, e in (session.adjustments or {}).items() if b in prices}
    adjustments.check_complete(prices, recorded)
    parsed = {b: adjustments.parse_adjustments(e["items"]) for b, e in recorded.items()}
    table = adjustments.price_table(prices, parsed)
    return {"evaluated": {b: r.evaluated_fen for b, r in table.items()},
            "price_table": {b: {"price_fen": r.price_fen, "adjustment_fen": r.adjustment_fen,
                                "evaluated_fen": r.evaluated_fen, "adjustments": recorded[b]["items"]}
                            for b, r in table.items()}}
