"""Alerts on experts' scores, and the rules for returning a score for correction.

Alerts are values with stable codes; the platform shows them to the chair and puts them in the report.

=========================  ==================================================================
code                       when
=========================  ==================================================================
``out_of_range``           a value below 0 or above the item's max
``not_a_step``             a value that is not a whole multiple of the item's step
``objective_inconsistent`` an objective item where the experts' values for a bidder differ at all
``score_outlier``          an expert's total for a bidder deviates from the mean of the *other*
                           experts' totals by more than the threshold: ``percent`` of the total
                           maximum (sum of item maxima), or ``points``; both given → either trips
``arithmetic_mismatch``    an expert's submitted total differs from the sum of their item scores
=========================  ==================================================================

Returning a score for correction (F87 64) is allowed only for ``RETURN_REASONS``; each correction is
recorded (``Correction``). Subjective scores are never negotiated (F87 62): any other reason is
refused, and ``objective_inconsistent`` cannot be used on a subjective item.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping, Sequence

from common.errors import BadRequest, ErrorCode, PlatformError

from .aggregate import Item, Sheets, parse_items
from .numbers import CALC, HUNDRED, ZERO, to_decimal

OUT_OF_RANGE = "out_of_range"
NOT_A_STEP = "not_a_step"
OBJECTIVE_INCONSISTENT = "objective_inconsistent"
SCORE_OUTLIER = "score_outlier"
ARITHMETIC_MISMATCH = "arithmetic_mismatch"

RETURN_REASONS = frozenset({"arithmetic_error", "out_of_range", "objective_inconsistent", "abnormal_score"})


@dataclass(frozen=True)
class Alert:
    code: str
    bidder: str
    expert: str | None = None
    item: str | None = None
    details: Mapping[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "bidder": self.bidder, "expert": self.expert, "item": self.item,
                "details": dict(self.details)}

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.bidder, self.code, self.expert or "", self.item or "")


def value_alerts(items: Sequence[Item], sheets: Sheets) -> list[Alert]:
    """``out_of_range`` and ``not_a_step`` for every entered value (missing values are not alerts:
    ``aggregate.normalise_sheets`` refuses incomplete sheets)."""
    by_id = {i.id: i for i in parse_items(items)}
    out = []
    for expert, per_bidder in sheets.items():
        for bidder, values in per_bidder.items():
            for item_id, raw in values.items():
                if item_id not in by_id or raw is None:
                    continue
                value = to_decimal(raw, what=f"score for {item_id}")
                code = by_id[item_id].problem(value)
                if code:
                    out.append(Alert(code, bidder, expert, item_id,
                                     {"value": str(value), "max": str(by_id[item_id].max),
                                      "step": str(by_id[item_id].step)}))
    return sorted(out, key=Alert.sort_key)


def objective_alerts(items: Sequence[Item], sheets: Sheets) -> list[Alert]:
    """One ``objective_inconsistent`` per (bidder, objective item) whose entered values differ."""
    objective = [i for i in parse_items(items) if i.kind == "objective"]
    bidders = sorted({b for per in sheets.values() for b in per})
    out = []
    for bidder in bidders:
        for item in objective:
            values = {e: to_decimal(per[bidder][item.id]) for e, per in sheets.items()
                      if per.get(bidder, {}).get(item.id) is not None}
            if len(set(values.values())) > 1:
                out.append(Alert(OBJECTIVE_INCONSISTENT, bidder, None, item.id,
                                 {e: str(v) for e, v in sorted(values.items())}))
    return out


def outlier_alerts(items: Sequence[Item], totals: Mapping[str, Mapping[str, Decimal]], *,
                   percent: Decimal | int | str | None = None,
                   points: Decimal | int | str | None = None) -> list[Alert]:
    """``score_outlier`` for each (bidder, expert) whose total (``totals[bidder][expert]``, the plain
    sum of item scores) deviates from the others' mean by strictly more than the threshold."""
    if percent is None and points is None:
        raise BadRequest("an outlier threshold needs percent or points")
    maximum = sum((i.max for i in parse_items(items)), ZERO)
    limits = []
    if percent is not None:
        share = to_decimal(percent, what="outlier percent")
        limits.append(CALC.divide(CALC.multiply(share, maximum), HUNDRED))
    if points is not None:
        limits.append(to_decimal(points, what="outlier points"))
    limit = min(limits)
    out = []
    for bidder in sorted(totals):
        per_expert = totals[bidder]
        if len(per_expert) < 2:
            continue
        for expert in sorted(per_expert):
            others = [v for e, v in per_expert.items() if e != expert]
            mean = CALC.divide(sum(others, ZERO), Decimal(len(others)))
            deviation = abs(per_expert[expert] - mean)
            if deviation > limit:
                out.append(Alert(SCORE_OUTLIER, bidder, expert, None,
                                 {"total": str(per_expert[expert]), "others_mean": str(mean),
                                  "deviation": str(deviation), "limit": str(limit)}))
    return out


def arithmetic_alerts(sheets: Sheets, submitted_totals: Mapping[str, Mapping[str, Any]]) -> list[Alert]:
    """``arithmetic_mismatch`` where ``submitted_totals[expert][bidder]`` ≠ the sum of the items."""
    out = []
    for expert in sorted(submitted_totals):
        for bidder in sorted(submitted_totals[expert]):
            submitted = to_decimal(submitted_totals[expert][bidder], what="submitted total")
            values = sheets.get(expert, {}).get(bidder, {})
            actual = sum((to_decimal(v) for v in values.values() if v is not None), ZERO)
            if submitted != actual:
                out.append(Alert(ARITHMETIC_MISMATCH, bidder, expert, None,
                                 {"submitted": str(submitted), "sum_of_items": str(actual)}))
    return out


def check_return(item: Item | None, reason: str) -> None:
    """May the chair return a score for correction for ``reason``? ``item`` is None for a return of
    an expert's whole sheet for a bidder (e.g. an arithmetic error in the total).

    Raises ``PlatformError(FORBIDDEN)`` when the rules forbid it (F87 62, 64)."""
    if reason not in RETURN_REASONS:
        raise PlatformError(ErrorCode.FORBIDDEN,
                            "a score can be returned only for an arithmetic error, a value out of range, "
                            "an inconsistent objective score or an abnormal score (F87 64); subjective "
                            "scores are never negotiated (F87 62)",
                            details={"reason": reason, "allowed": sorted(RETURN_REASONS)})
    if reason == "objective_inconsistent" and (item is None or item.kind != "objective"):
        raise PlatformError(ErrorCode.FORBIDDEN,
                            "only an objective item can be returned as inconsistent; subjective scores "
                            "are never negotiated (F87 62)", details={"reason": reason})


@dataclass(frozen=True)
class Correction:
    """The record of one corrected value (F87 64)."""

    expert: str
    bidder: str
    item: str
    reason: str
    old: Decimal
    new: Decimal
    at: datetime
    requested_by: str

    def as_dict(self) -> dict[str, str]:
        return {"expert": self.expert, "bidder": self.bidder, "item": self.item, "reason": self.reason,
                "old": str(self.old), "new": str(self.new), "at": self.at.isoformat(),
                "requested_by": self.requested_by}


def correct(items: Sequence[Item], sheets: Sheets, *, expert: str, bidder: str, item_id: str,
            new_value: Any, reason: str, requested_by: str, now: datetime
            ) -> tuple[dict[str, dict[str, dict[str, Any]]], Correction]:
    """Apply the expert's corrected value after a permitted return; return (new sheets, record).

    The new value must itself be valid for the item; the input sheets are not modified."""
    by_id = {i.id: i for i in parse_items(items)}
    if item_id not in by_id:
        raise BadRequest("unknown item", details={"item": item_id})
    item = by_id[item_id]
    check_return(item, reason)
    old_raw = sheets.get(expert, {}).get(bidder, {}).get(item_id)
    if old_raw is None:
        raise BadRequest("there is no score to correct", details={"expert": expert, "bidder": bidder})
    new = to_decimal(new_value, what="corrected score")
    problem = item.problem(new)
    if problem:
        raise BadRequest("the corrected score is not valid", details={"problem": problem, "item": item_id})
    copied = {e: {b: dict(v) for b, v in per.items()} for e, per in sheets.items()}
    copied[expert][bidder][item_id] = new
    return copied, Correction(expert, bidder, item_id, reason, to_decimal(old_raw), new, now, requested_by)
