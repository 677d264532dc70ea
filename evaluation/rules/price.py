"""Price-score formulas. Prices are integer fen of the *valid* bids only: the caller removes bids
rejected in the compliance review first (R12 23; F87 55 "满足招标文件要求且投标价格最低").

Results carry both the exact score (34 significant digits, see ``numbers.CALC``) and the score
rounded by the tender's declared rule. Which of the two enters the total is the aggregation's
``round_at`` setting (``aggregate.py``); the report shows the rounded one.

(a) ``f87_scores`` — 财政部87号令 Art. 55 (综合评分法): benchmark = the lowest valid price;
    score = benchmark / price × full marks, where the full marks are the price weight (e.g. 30).
    The highest and lowest prices are not discarded.
(b) ``construction_scores`` — the construction trimmed-mean formula used by many 施工 tenders:
    mean of the valid prices, dropping one highest and one lowest when there are at least
    ``trim_from`` (default 5) of them; benchmark = mean × (1 + K) with K a drawn coefficient in percent
    (may be negative, e.g. −3..0); deviation d = (price − benchmark) / benchmark × 100 (percent);
    score = full − rate_above × d when d > 0, full − rate_below × |d| when d < 0, full when d = 0,
    linearly (no stepping by whole percents), floored at 0.
    Ties at the extremes: exactly one price is dropped at each end, whatever the number of bids
    sharing the highest (or lowest) price; the others stay in the mean. Since equal prices are
    interchangeable in a mean, which of the tied bidders is "the dropped one" does not matter.
(c) ``evaluated_prices`` — 经评审的最低投标价法 (R12 29–31): evaluated price = bid price plus the
    committee's quantified adjustments (in fen, positive or negative, given); exact integer fen,
    so no rounding. Ranking by evaluated price is ``ranking.rank_lowest_evaluated``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Mapping, Sequence

from common.errors import BadRequest

from .numbers import CALC, HUNDRED, ZERO, Rounding, to_decimal, to_fen

DEFAULT_TRIM_FROM = 5


@dataclass(frozen=True)
class PriceScores:
    benchmark: Decimal  # in fen, exact
    exact: dict[str, Decimal]
    rounded: dict[str, Decimal]
    mean: Decimal | None = None  # construction formula only: the (trimmed) mean, in fen, exact
    dropped: tuple[int, ...] = ()  # construction formula only: the prices (fen) left out of the mean
    deviations: dict[str, Decimal] | None = None  # construction formula only: d in percent, exact


def _valid_prices(prices: Mapping[str, int]) -> dict[str, int]:
    if not prices:
        raise BadRequest("a price score needs at least one valid price")
    return {str(bidder): to_fen(price, what=f"price of {bidder}") for bidder, price in prices.items()}


def _full_marks(full_marks: Decimal | int | str) -> Decimal:
    full = to_decimal(full_marks, what="full marks")
    if full <= 0:
        raise BadRequest("full marks must be positive")
    return full


def f87_scores(prices: Mapping[str, int], *, full_marks: Decimal | int | str,
               rounding: Rounding = Rounding()) -> PriceScores:
    """财政部87号令 Art. 55: score = lowest valid price / price × full marks."""
    valid = _valid_prices(prices)
    full = _full_marks(full_marks)
    benchmark = Decimal(min(valid.values()))
    # Multiply before dividing: one inexact operation per score.
    exact = {b: CALC.divide(CALC.multiply(benchmark, full), Decimal(p)) for b, p in valid.items()}
    return PriceScores(benchmark=benchmark, exact=exact,
                       rounded={b: rounding.apply(s) for b, s in exact.items()})


def trimmed_price_mean(prices: Sequence[int], *, trim_from: int = DEFAULT_TRIM_FROM
                       ) -> tuple[Decimal, tuple[int, ...]]:
    """The mean of ``prices`` (fen), dropping one highest and one lowest when there are at least
    ``trim_from``. Returns (mean, dropped prices)."""
    if isinstance(trim_from, bool) or not isinstance(trim_from, int) or trim_from < 3:
        raise BadRequest("trim_from is an integer of at least 3")
    ordered = sorted(prices)
    dropped: tuple[int, ...] = ()
    if len(ordered) >= trim_from:
        dropped = (ordered[0], ordered[-1])
        ordered = ordered[1:-1]
    total = Decimal(sum(ordered))
    return CALC.divide(total, Decimal(len(ordered))), dropped


def construction_scores(prices: Mapping[str, int], *, full_marks: Decimal | int | str,
                        k_percent: Decimal | int | str, rate_above: Decimal | int | str = 1,
                        rate_below: Decimal | int | str = "0.5", trim_from: int = DEFAULT_TRIM_FROM,
                        rounding: Rounding = Rounding()) -> PriceScores:
    """The construction formula; ``k_percent`` is K in percent (−2 means benchmark = mean × 0.98);
    ``rate_above``/``rate_below`` are points deducted per 1 % above/below the benchmark."""
    valid = _valid_prices(prices)
    full = _full_marks(full_marks)
    k = to_decimal(k_percent, what="K")
    above = to_decimal(rate_above, what="rate above")
    below = to_decimal(rate_below, what="rate below")
    if above < 0 or below < 0:
        raise BadRequest("deduction rates cannot be negative")
    if not Decimal(-100) < k < HUNDRED:
        raise BadRequest("K must be strictly between -100 and 100 percent")
    mean, dropped = trimmed_price_mean(list(valid.values()), trim_from=trim_from)
    benchmark = CALC.multiply(mean, CALC.divide(CALC.add(HUNDRED, k), HUNDRED))
    exact: dict[str, Decimal] = {}
    deviations: dict[str, Decimal] = {}
    for bidder, price in valid.items():
        d = CALC.divide(CALC.multiply(CALC.subtract(Decimal(price), benchmark), HUNDRED), benchmark)
        deviations[bidder] = d
        if d > 0:
            score = CALC.subtract(full, CALC.multiply(above, d))
        elif d < 0:
            score = CALC.subtract(full, CALC.multiply(below, -d))
        else:
            score = full
        exact[bidder] = max(score, ZERO)
    return PriceScores(benchmark=benchmark, exact=exact,
                       rounded={b: rounding.apply(s) for b, s in exact.items()},
                       mean=mean, dropped=dropped, deviations=deviations)


def evaluated_prices(prices: Mapping[str, int],
                     adjustments: Mapping[str, Sequence[int]] | None = None) -> dict[str, int]:
    """经评审的最低投标价法: bid price (fen) plus the quantified adjustments (fen, signed) per bidder.

    An adjustment for a bidder without a valid price is an error (it would silently vanish)."""
    valid = _valid_prices(prices)
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


def score_prices(settings: Mapping[str, object], prices: Mapping[str, int], *,
                 k_percent: Decimal | int | str | None = None) -> PriceScores:
    """Dispatch on the tender's validated settings (``evaluation.rules.settings.validate_evaluation_settings``):
    the price weight is the full marks; K must lie in [k_min, k_max] for the construction formula."""
    rounding = Rounding.from_settings(settings)
    full = to_decimal(settings["weights"]["price"], what="price weight")  # type: ignore[index]
    if settings["price_formula"] == "f87_lowest":
        return f87_scores(prices, full_marks=full, rounding=rounding)
    if k_percent is None:
        raise BadRequest("the construction formula needs the drawn coefficient K")
    k = to_decimal(k_percent, what="K")
    if not to_decimal(settings["k_min"]) <= k <= to_decimal(settings["k_max"]):
        raise BadRequest("K is outside the tender's range",
                         details={"k": str(k), "k_min": str(settings["k_min"]),
                                  "k_max": str(settings["k_max"])})
    return construction_scores(prices, full_marks=full, k_percent=k, rate_above=settings["rate_above"],
                               rate_below=settings["rate_below"], trim_from=settings["trim_prices_from"],
                               rounding=rounding)
