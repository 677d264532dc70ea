"""Abnormally low prices (异常低价): flags for the committee, and its recorded decision.

Sources: 财政部令第87号 Art. 60 — when the committee considers a price obviously lower than the other
bids that passed the compliance review, such that it may affect quality or honest performance, the
bidder must explain it in writing within a reasonable time at the evaluation (with evidence when
needed); a bidder that cannot show the price is reasonable has its bid treated as invalid.
招标投标法实施条例 Art. 51(五): a bid below cost is rejected. Neither fixes a threshold; the tender
states its own (``parse_low_price_rule``), e.g. "below 80 % of the mean of the other valid bids".

The flag is advisory: the committee decides. The platform asks the bidder through the existing
clarification channel with the tender's reply time; the committee records ``accepted`` or
``rejected`` with reasons (after the answer, or after the deadline without one, when the tender's
``no_answer`` says what happens: ``reject`` by default, as Art. 60's burden is on the bidder).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from common.errors import BadRequest

from .exact import approx_text, ratio_text, to_fraction

BASES = frozenset({"mean_of_others", "mean", "benchmark", "ceiling"})
NO_ANSWER = frozenset({"reject", "committee"})
DECISIONS = frozenset({"accepted", "rejected"})


@dataclass(frozen=True)
class LowPriceRule:
    basis: str = "mean_of_others"
    percent: Fraction = Fraction(80)  # flagged when price < percent % of the basis
    answer_minutes: int = 30
    no_answer: str = "reject"

    def as_dict(self) -> dict[str, Any]:
        return {"basis": self.basis, "percent": ratio_text(self.percent), "answer_minutes": self.answer_minutes,
                "no_answer": self.no_answer}


def parse_low_price_rule(raw: Any) -> LowPriceRule:
    if not isinstance(raw, dict) or set(raw) - {"basis", "percent", "answer_minutes", "no_answer"}:
        raise BadRequest("abnormally_low is {basis, percent, answer_minutes?, no_answer?}")
    basis = raw.get("basis", "mean_of_others")
    if basis not in BASES:
        raise BadRequest("unknown basis for abnormally low prices", details={"allowed": sorted(BASES)})
    percent = to_fraction(raw.get("percent"), what="abnormally_low percent")
    if not 0 < percent < 100:
        raise BadRequest("abnormally_low percent is between 0 and 100")
    minutes = raw.get("answer_minutes", 30)
    if isinstance(minutes, bool) or not isinstance(minutes, int) or not 5 <= minutes <= 7 * 24 * 60:
        raise BadRequest("answer_minutes is an integer from 5 to 10080")
    no_answer = raw.get("no_answer", "reject")
    if no_answer not in NO_ANSWER:
        raise BadRequest("no_answer is reject or committee", details={"allowed": sorted(NO_ANSWER)})
    return LowPriceRule(basis, percent, minutes, no_answer)


@dataclass(frozen=True)
class LowPriceFlag:
    bidder: str
    price: Fraction
    basis_value: Fraction
    threshold: Fraction

    def as_dict(self) -> dict[str, Any]:
        return {"bidder": self.bidder, "price_fen": ratio_text(self.price),
                "basis_fen": {"exact": ratio_text(self.basis_value), "approx": approx_text(self.basis_value, 2)},
                "threshold_fen": {"exact": ratio_text(self.threshold), "approx": approx_text(self.threshold, 2)},
                "percent_of_basis": approx_text(self.price / self.basis_value * 100, 4)}


def flag_low_prices(rule: LowPriceRule, prices: Mapping[str, int | Fraction], *,
                    benchmark: Fraction | None = None, ceiling_fen: int | None = None) -> list[LowPriceFlag]:
    """The bids strictly below ``percent`` % of the basis, by bidder. ``mean_of_others`` compares
    each bid with the mean of the *other* valid bids (87号令 Art. 60's "其他…投标人的报价")."""
    values = {b: Fraction(p) for b, p in prices.items()}
    if len(values) < 2 and rule.basis == "mean_of_others":
        return []
    total = sum(values.values(), Fraction(0))
    flags = []
    for bidder, price in sorted(values.items()):
        if rule.basis == "mean_of_others":
            basis = (total - price) / (len(values) - 1)
        elif rule.basis == "mean":
            basis = total / len(values)
        elif rule.basis == "benchmark":
            if benchmark is None:
                raise BadRequest("the abnormally-low basis is the benchmark, which is not computed")
            basis = benchmark
        else:
            if ceiling_fen is None:
                raise BadRequest("the abnormally-low basis is the ceiling price, which the tender lacks")
            basis = Fraction(ceiling_fen)
        threshold = basis * rule.percent / 100
        if price < threshold:
            flags.append(LowPriceFlag(bidder, price, basis, threshold))
    return flags


def check_decision(rule: LowPriceRule, *, decision: Any, reasons: Any, answered: bool,
                   deadline_passed: bool) -> str:
    """Validate the committee's decision on one flag; returns it. Before an answer the committee
    waits for the deadline; without an answer by then the tender's ``no_answer`` applies
    (``reject``: only a rejection can be recorded)."""
    if decision not in DECISIONS:
        raise BadRequest("a decision is accepted or rejected", details={"allowed": sorted(DECISIONS)})
    if not isinstance(reasons, str) or not reasons.strip() or len(reasons) > 2000:
        raise BadRequest("the committee states its reasons (1 to 2000 characters)")
    if not answered and not deadline_passed:
        raise BadRequest("the bidder's written explanation is awaited until the deadline",
                         details={"code": "awaiting_answer"})
    if not answered and rule.no_answer == "reject" and decision != "rejected":
        raise BadRequest("without an explanation in time the tender treats the bid as invalid",
                         details={"no_answer": rule.no_answer})
    return decision
