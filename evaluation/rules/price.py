"""Price scores under the tender's declared rule (``price_rule.PriceRule``), exactly.

Prices are integer fen of the *valid* bids only (the compliance review and the ceiling check come
first: R12 23; 实施条例 51), or exact Fractions of fen when a price deduction for small and micro
enterprises made them the *evaluated* prices (``sme.py``). Everything is a ``Fraction``: benchmark,
mean, deviation, deduction, score. The only rounding is ``Rounding.apply`` on the score (and, when
the tender says so, on the deviation before it is scored), each exactly once.

Results carry, per bidder, everything an expert needs to check the score by hand: the price that
was scored, the deviation exact and as rounded, the points deducted, the exact score and the rounded
one; and for the lot the benchmark, the (trimmed) mean, the prices dropped from it, K and the rule.
``PriceScores.record()`` is that as JSON (exact values as "p/q" text, with a decimal for people).

Also here: ``reject_above_ceiling`` (实施条例 51) and ``evaluated_prices`` (经评审的最低投标价法, R12
29–31: bid price + the committee's quantified adjustments, integer fen).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Sequence

from common.errors import BadRequest

from .exact import approx_text, ratio_text, to_fraction
from .numbers import Rounding, to_fen
from .price_rule import Band, PriceRule, TrimRow, parse_price_rule, rule_from_settings, trim_row

DEFAULT_TRIM_FROM = 5
HUNDRED = Fraction(100)


@dataclass(frozen=True)
class PriceDetail:
    price: Fraction  # the price scored (fen): the bid price, or the evaluated price after an SME deduction
    exact: Fraction
    rounded: Decimal
    deviation: Fraction | None = None  # percent, exact
    deviation_used: Fraction | None = None  # percent, after the declared rounding of the deviation
    deduction: Fraction | None = None  # points taken off the full marks (before the floor)


@dataclass(frozen=True)
class PriceScores:
    benchmark: Fraction  # fen, exact
    exact: dict[str, Fraction]
    rounded: dict[str, Decimal]
    mean: Fraction | None = None  # the (trimmed) mean, fen, exact
    dropped: tuple[Fraction, ...] = ()  # the prices (fen) left out of the mean
    deviations: dict[str, Fraction] | None = None  # d in percent, exact
    details: dict[str, PriceDetail] | None = None
    rule: PriceRule | None = None
    rounding: Rounding = Rounding()
    full_marks: Fraction = Fraction(0)
    k: Fraction | None = None

    def record(self) -> dict[str, Any]:
        """The JSON the summary and the report keep: every figure exact ("p/q") and for people."""
        def pair(x: Fraction | None) -> dict[str, str] | None:
            return None if x is None else {"exact": ratio_text(x), "approx": approx_text(x)}

        return {
            "rule": self.rule.as_dict() if self.rule else None, "rounding": self.rounding.as_dict(),
            "full_marks": ratio_text(self.full_marks), "k_percent": None if self.k is None else ratio_text(self.k),
            "benchmark": pair(self.benchmark), "mean": pair(self.mean),
            "dropped": [ratio_text(p) for p in self.dropped],
            "bidders": {b: {"price": pair(d.price), "deviation": pair(d.deviation),
                            "deviation_used": pair(d.deviation_used), "deduction": pair(d.deduction),
                            "exact": ratio_text(d.exact), "rounded": str(d.rounded)}
                        for b, d in sorted((self.details or {}).items())},
        }


def _price(value: Any, bidder: str) -> Fraction:
    if isinstance(value, Fraction):
        if value <= 0:
            raise BadRequest("a price must be positive", details={"bidder": bidder})
        return value
    return Fraction(to_fen(value, what=f"price of {bidder}"))


def _valid_prices(prices: Mapping[str, Any]) -> dict[str, Fraction]:
    if not prices:
        raise BadRequest("a price score needs at least one valid price")
    return {str(b): _price(p, str(b)) for b, p in prices.items()}


def _full_marks(full_marks: Any) -> Fraction:
    full = to_fraction(full_marks, what="full marks")
    if full <= 0:
        raise BadRequest("full marks must be positive")
    return full


def trimmed_mean(prices: Sequence[Fraction | int], table: tuple[TrimRow, ...]
                 ) -> tuple[Fraction, tuple[Fraction, ...]]:
    """The mean after the trimming table's row for ``len(prices)``: exactly ``high`` highest and
    ``low`` lowest prices dropped; among equal prices at an extreme only that many go (equal prices
    are interchangeable in a mean, so which of the tied bidders is "the dropped one" does not matter).
    Returns (mean, dropped prices)."""
    ordered = sorted(Fraction(p) for p in prices)
    row = trim_row(table, len(ordered))
    dropped: tuple[Fraction, ...] = ()
    if row is not None:
        kept = ordered[row.low:len(ordered) - row.high]
        dropped = tuple(ordered[:row.low]) + tuple(ordered[len(ordered) - row.high:])
        ordered = kept
    return sum(ordered, Fraction(0)) / len(ordered), dropped


def trimmed_price_mean(prices: Sequence[int], *, trim_from: int = DEFAULT_TRIM_FROM
                       ) -> tuple[Fraction, tuple[Fraction, ...]]:
    """One highest and one lowest dropped from ``trim_from`` prices on (the flat settings' table)."""
    if isinstance(trim_from, bool) or not isinstance(trim_from, int) or trim_from < 3:
        raise BadRequest("trim_from is an integer of at least 3")
    return trimmed_mean(prices, (TrimRow(trim_from, 1, 1),))


def check_k(rule: PriceRule, k: Any) -> Fraction | None:
    """K (percent) when the rule draws one, within the rule's range; None when it does not."""
    if rule.benchmark == "lowest" or rule.k_range is None:
        return None
    if k is None:
        raise BadRequest("this price rule needs the drawn coefficient K")
    value = to_fraction(k, what="K")
    low, high = rule.k_range
    if not low <= value <= high:
        raise BadRequest("K is outside the tender's range",
                         details={"k": ratio_text(value), "k_min": ratio_text(low), "k_max": ratio_text(high)})
    return value


def benchmark_of(rule: PriceRule, prices: Sequence[Fraction], k: Fraction | None
                 ) -> tuple[Fraction, Fraction | None, tuple[Fraction, ...]]:
    """(benchmark, mean or None, dropped prices)."""
    if rule.benchmark == "lowest":
        return min(prices), None, ()
    mean, dropped = trimmed_mean(prices, rule.trim)
    base = mean
    if rule.benchmark == "composite":
        assert rule.ceiling_fen is not None  # parse_price_rule requires it
        base = (rule.ceiling_weight * rule.ceiling_fen * (1 - rule.ceiling_discount / HUNDRED)
                + rule.mean_weight * mean)
    if k is not None:
        base = base * (1 + k / HUNDRED)
    return base, mean, dropped


def deduction_for(rule: PriceRule, d: Fraction) -> Fraction:
    """Points off for a deviation of ``d`` percent (signed) under the rule's deduction mode."""
    bands = rule.above if d > 0 else rule.below
    size = abs(d)
    if rule.deduction == "interpolated":
        return _banded(bands, size, rule.step)
    steps = size / rule.step
    if rule.deduction == "stepped":  # 不足1%按1%计
        steps = Fraction(math.ceil(steps))
    elif rule.deduction == "ignored":  # 不足1%不计
        steps = Fraction(math.floor(steps))
    return bands[0].rate * steps


def _banded(bands: tuple[Band, ...], size: Fraction, step: Fraction) -> Fraction:
    total, start = Fraction(0), Fraction(0)
    for band in bands:
        end = size if band.upto is None else min(size, band.upto)
        if end > start:
            total += band.rate * (end - start) / step
        if band.upto is None or size <= band.upto:
            break
        start = band.upto
    else:  # |d| beyond a bounded last band: that band's rate continues
        total += bands[-1].rate * (size - start) / step
    return total


def score_with_rule(rule: PriceRule, prices: Mapping[str, Any], *, full_marks: Any,
                    rounding: Rounding = Rounding(), k: Any = None) -> PriceScores:
    valid = _valid_prices(prices)
    full = _full_marks(full_marks)
    if rule.score == "deviation" and rule.floor > full:
        raise BadRequest("the floor is above the full marks")
    k_value = check_k(rule, k)
    benchmark, mean, dropped = benchmark_of(rule, list(valid.values()), k_value)
    details: dict[str, PriceDetail] = {}
    for bidder, price in valid.items():
        if rule.score == "ratio":
            exact = benchmark / price * full
            details[bidder] = PriceDetail(price, exact, rounding.apply(exact))
            continue
        d = (price - benchmark) / benchmark * HUNDRED
        used = d if rule.deviation_rounding is None else Fraction(rule.deviation_rounding.apply(d))
        off = deduction_for(rule, used) if used else Fraction(0)
        exact = max(full - off, rule.floor)
        details[bidder] = PriceDetail(price, exact, rounding.apply(exact), d, used, off)
    return PriceScores(benchmark=benchmark, exact={b: v.exact for b, v in details.items()},
                       rounded={b: v.rounded for b, v in details.items()}, mean=mean, dropped=dropped,
                       deviations=None if rule.score == "ratio" else {b: v.deviation for b, v in details.items()},
                       details=details, rule=rule, rounding=rounding, full_marks=full, k=k_value)


def f87_scores(prices: Mapping[str, Any], *, full_marks: Any, rounding: Rounding = Rounding()) -> PriceScores:
    """财政部87号令 Art. 55: score = lowest valid price / price × full marks."""
    return score_with_rule(PriceRule(), prices, full_marks=full_marks, rounding=rounding)


def construction_scores(prices: Mapping[str, Any], *, full_marks: Any, k_percent: Any, rate_above: Any = 1,
                        rate_below: Any = "0.5", trim_from: int = DEFAULT_TRIM_FROM,
                        rounding: Rounding = Rounding()) -> PriceScores:
    """The flat settings' construction formula: one highest and one lowest dropped from
    ``trim_from`` prices, × (1 + K/100), points per 1 % above / below, linear, floored at 0."""
    if isinstance(trim_from, bool) or not isinstance(trim_from, int) or trim_from < 3:
        raise BadRequest("trim_from is an integer of at least 3")
    k = to_fraction(k_percent, what="K")
    if not -100 < k < 100:
        raise BadRequest("K must be strictly between -100 and 100 percent")
    rule = replace(parse_price_rule({
        "benchmark": {"kind": "mean", "trim": [{"from": trim_from, "high": 1, "low": 1}]},
        "score": {"kind": "deviation", "above": _rate(rate_above), "below": _rate(rate_below)}}), k_range=(k, k))
    return score_with_rule(rule, prices, full_marks=full_marks, rounding=rounding, k=k)


def _rate(value: Any) -> str:
    rate = to_fraction(value, what="rate")
    if rate < 0:
        raise BadRequest("deduction rates cannot be negative")
    return ratio_text(rate)


def reject_above_ceiling(prices: Mapping[str, int], ceiling_fen: int | None) -> dict[str, int]:
    """The bids whose price is above the ceiling (最高投标限价): rejected before scoring (实施条例 51).
    A price equal to the ceiling is not above it."""
    if ceiling_fen is None:
        return {}
    return {b: p for b, p in prices.items() if to_fen(p, what=f"price of {b}") > ceiling_fen}


def evaluated_prices(prices: Mapping[str, int],
                     adjustments: Mapping[str, Sequence[int]] | None = None) -> dict[str, int]:
    """经评审的最低投标价法: bid price (fen) plus the quantified adjustments (fen, signed) per bidder.

    An adjustment for a bidder without a valid price is an error (it would silently vanish)."""
    valid = {str(b): to_fen(p, what=f"price of {b}") for b, p in prices.items()}
    if not valid:
        raise BadRequest("a price score needs at least one valid price")
    adjustments = adjustments or {}
    unknown = set(map(str, adjustments)) - set(valid)
    if unknown:
        raise BadRequest("adjustments for bidders without a valid price",
                         details={"bidders": sorted(unknown)})
    out: dict[str, int] = {}
    for bidder, price in valid.items():
        extra = adjustments.get(bidder, ())
        for amount in extra:
            if isinstance(amount, bool) or not isinstance(amount, int):
                raise BadRequest("an adjustment is an integer number of fen", details={"bidder": bidder})
        evaluated = price + sum(extra)
        if evaluated <= 0:
            raise BadRequest("an evaluated price must stay positive", details={"bidder": bidder})
        out[bidder] = evaluated
    return out


def score_prices(settings: Mapping[str, Any], prices: Mapping[str, Any], *, k_percent: Any = None
                 ) -> PriceScores:
    """Score under the tender's validated settings (``rule_from_settings``): the price weight is
    the full marks, the declared ``rounding``/``decimals`` round the score."""
    rule = rule_from_settings(settings)
    return score_with_rule(rule, prices, full_marks=settings["weights"]["price"],
                           rounding=Rounding.from_settings(settings), k=k_percent)
