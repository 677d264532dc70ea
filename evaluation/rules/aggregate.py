"""Scoring items, validation of experts' scores, and the aggregate per bidder (综合评分法).

Items: ``id``, ``category`` (technical | business), ``kind`` (subjective | objective), ``max`` and
``step`` (Decimal, e.g. 0.5). A value is valid when 0 ≤ value ≤ max and value is a whole multiple of
step; every expert fills every item for every bidder. The price category has no items: its points
come from the price formula (``price.py``) with the price weight as the full marks (F87 55).

Weights are points per category: a category's points for one expert are
``sum of the expert's item scores / sum of the category's item maxima × weight``; when the maxima
already add up to the weight (the usual case) the factor is exactly 1.

Aggregation across experts (per the tender's ``aggregate`` setting):
- ``mean``: the mean of all experts' weighted totals;
- ``trimmed_mean``: with at least ``trim_experts_from`` experts (default 5), the expert with the
  highest and the one with the lowest weighted total are left out, then the mean. On ties at an
  extreme exactly one expert is left out at each end: the smallest expert id among the tied ones (any
  choice gives the same mean; the id makes the record deterministic).

Rounding (``round_at``): item scores are never rounded (they are validated multiples of the step).
- ``final`` (default): price score, category means and the total are carried exact (Fractions:
  no intermediate precision at all); only the per-bidder total is rounded with the declared rule. Components are shown rounded in the
  report, so a displayed sum may differ from the total in the last place; the total decides.
- ``components``: the price score and each category mean are rounded first, and the total is their
  sum (it then needs no further rounding and always equals the displayed components).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping, Sequence

from common.errors import BadRequest

from .numbers import ZERO, Rounding, to_decimal

CATEGORIES = ("technical", "business")
KINDS = frozenset({"subjective", "objective"})
AGGREGATES = frozenset({"mean", "trimmed_mean"})
ROUND_AT = frozenset({"final", "components"})
DEFAULT_TRIM_EXPERTS_FROM = 5

# expert id -> bidder id -> item id -> value
Sheets = Mapping[str, Mapping[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Item:
    id: str
    category: str
    kind: str
    max: Decimal
    step: Decimal

    def __post_init__(self) -> None:
        if not self.id:
            raise BadRequest("an item needs an id")
        if self.category not in CATEGORIES:
            raise BadRequest("an item's category is technical or business (price points come from the "
                             "price formula)", details={"item": self.id, "category": self.category})
        if self.kind not in KINDS:
            raise BadRequest("an item's kind is subjective or objective", details={"item": self.id})
        if self.max <= 0 or self.step <= 0:
            raise BadRequest("an item's max and step are positive", details={"item": self.id})
        if self.max % self.step != 0:
            raise BadRequest("an item's max is a multiple of its step", details={"item": self.id})

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "Item":
        return cls(id=str(raw.get("id", "")), category=raw.get("category", ""), kind=raw.get("kind", ""),
                   max=to_decimal(raw.get("max"), what="item max"),
                   step=to_decimal(raw.get("step", "0.5"), what="item step"))

    def problem(self, value: Decimal) -> str | None:
        """The alert code a value earns, or None: ``out_of_range`` or ``not_a_step``."""
        if value < 0 or value > self.max:
            return "out_of_range"
        if value % self.step != 0:
            return "not_a_step"
        return None


def parse_items(raw: Sequence[Mapping[str, Any] | Item]) -> tuple[Item, ...]:
    items = tuple(r if isinstance(r, Item) else Item.parse(r) for r in raw)
    if not items:
        raise BadRequest("a scoring table needs at least one item")
    ids = [i.id for i in items]
    if len(set(ids)) != len(ids):
        raise BadRequest("item ids are unique")
    return items


def normalise_sheets(items: Sequence[Item], sheets: Sheets, *, experts: Sequence[str],
                     bidders: Sequence[str]) -> dict[str, dict[str, dict[str, Decimal]]]:
    """Every expert scored every item for every bidder with a valid value; return Decimal sheets.

    Raises ``BadRequest`` listing every problem (missing, unknown, out of range, not a step)."""
    problems: list[dict[str, str]] = []
    out: dict[str, dict[str, dict[str, Decimal]]] = {}
    by_id = {i.id: i for i in items}
    for expert in experts:
        out[expert] = {}
        for bidder in bidders:
            given = sheets.get(expert, {}).get(bidder, {})
            out[expert][bidder] = {}
            for item_id in sorted(set(given) - set(by_id)):
                problems.append({"expert": expert, "bidder": bidder, "item": item_id,
                                 "problem": "unknown_item"})
            for item in items:
                where = {"expert": expert, "bidder": bidder, "item": item.id}
                if item.id not in given or given[item.id] is None:
                    problems.append({**where, "problem": "missing"})
                    continue
                value = to_decimal(given[item.id], what=f"score for {item.id}")
                problem = item.problem(value)
                if problem:
                    problems.append({**where, "problem": problem})
                out[expert][bidder][item.id] = value
    extra = set(sheets) - set(experts)
    if extra:
        problems.append({"problem": "unknown_expert", "experts": ",".join(sorted(extra))})
    if problems:
        raise BadRequest("the scores are not complete and valid", details={"problems": problems})
    return out


@dataclass(frozen=True)
class AggregateSettings:
    weights: Mapping[str, Decimal]  # technical / business / price -> points
    method: str = "mean"
    trim_experts_from: int = DEFAULT_TRIM_EXPERTS_FROM
    rounding: Rounding = Rounding()
    round_at: str = "final"

    def __post_init__(self) -> None:
        if self.method not in AGGREGATES:
            raise BadRequest("unknown aggregate", details={"allowed": sorted(AGGREGATES)})
        if self.round_at not in ROUND_AT:
            raise BadRequest("round_at is final or components")
        if isinstance(self.trim_experts_from, bool) or not isinstance(self.trim_experts_from, int) \
                or self.trim_experts_from < 3:
            raise BadRequest("trim_experts_from is an integer of at least 3")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "AggregateSettings":
        weights = {k: to_decimal(v, what=f"weight {k}") for k, v in settings["weights"].items()}
        return cls(weights=weights, method=settings.get("aggregate", "mean"),
                   trim_experts_from=settings.get("trim_experts_from", DEFAULT_TRIM_EXPERTS_FROM),
                   rounding=Rounding.from_settings(settings), round_at=settings.get("round_at", "final"))


@dataclass(frozen=True)
class BidderAggregate:
    bidder: str
    per_expert: dict[str, Fraction]  # each expert's weighted total (technical + business), exact
    kept_experts: tuple[str, ...]
    dropped_experts: tuple[str, ...]
    categories: dict[str, Fraction]  # category -> points (rounded iff round_at == components)
    price: Fraction  # price points entering the total
    total: Decimal  # rounded with the declared rule, exactly once
    total_exact: Fraction = field(default=Fraction(0))


def expert_raw_totals(sheets: Mapping[str, Mapping[str, Mapping[str, Decimal]]]
                      ) -> dict[str, dict[str, Decimal]]:
    """bidder -> expert -> the plain sum of the expert's item scores (exact)."""
    out: dict[str, dict[str, Decimal]] = {}
    for expert, per_bidder in sheets.items():
        for bidder, values in per_bidder.items():
            out.setdefault(bidder, {})[expert] = sum(values.values(), ZERO)
    return out


def _category_factors(items: Sequence[Item], weights: Mapping[str, Decimal]) -> dict[str, Fraction]:
    factors: dict[str, Fraction] = {}
    for category in CATEGORIES:
        maximum = sum((i.max for i in items if i.category == category), ZERO)
        weight = weights.get(category, ZERO)
        if maximum == 0 and weight != 0:
            raise BadRequest("a weighted category has no items", details={"category": category})
        if maximum != 0 and weight == 0:
            raise BadRequest("a category with items has no weight", details={"category": category})
        if maximum:
            factors[category] = Fraction(weight) / Fraction(maximum)
    return factors


def kept_experts(per_expert: Mapping[str, Decimal], *, method: str, trim_from: int
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(kept, dropped) expert ids for the aggregate; see the module docstring for ties."""
    experts = sorted(per_expert)
    if method != "trimmed_mean" or len(experts) < trim_from:
        return tuple(experts), ()
    high = min(experts, key=lambda e: (-per_expert[e], e))
    low = min((e for e in experts if e != high), key=lambda e: (per_expert[e], e))
    return tuple(e for e in experts if e not in (high, low)), (high, low)


def aggregate(items: Sequence[Item], sheets: Sheets, *, experts: Sequence[str],
              price_scores: Mapping[str, Decimal] | None, settings: AggregateSettings
              ) -> dict[str, BidderAggregate]:
    """The aggregate per bidder. ``price_scores`` are exact points (``PriceScores.exact``) or None
    when the tender has no price category; rounding follows ``settings.round_at``."""
    items = parse_items(items)
    if not experts:
        raise BadRequest("scores need at least one expert")
    bidders = sorted({b for per in sheets.values() for b in per} | set(price_scores or {}))
    if price_scores is not None and set(price_scores) != set(bidders):
        raise BadRequest("every scored bidder needs a price score and vice versa",
                         details={"without_price": sorted(set(bidders) - set(price_scores))})
    values = normalise_sheets(items, sheets, experts=experts, bidders=bidders)
    factors = _category_factors(items, settings.weights)
    if price_scores is None and settings.weights.get("price", ZERO) != 0:
        raise BadRequest("the price weight needs price scores")
    rounding = settings.rounding
    out: dict[str, BidderAggregate] = {}
    exact = {e: {b: {i: Fraction(v) for i, v in per.items()} for b, per in values[e].items()} for e in experts}
    for bidder in bidders:
        per_category = {e: {c: sum((exact[e][bidder][i.id] for i in items if i.category == c), Fraction(0)) * f
                            for c, f in factors.items()} for e in experts}
        per_expert = {e: sum(per_category[e].values(), Fraction(0)) for e in experts}
        kept, dropped = kept_experts(per_expert, method=settings.method,
                                     trim_from=settings.trim_experts_from)
        categories = {c: sum((per_category[e][c] for e in kept), Fraction(0)) / len(kept) for c in factors}
        price = Fraction(price_scores[bidder]) if price_scores is not None else Fraction(0)
        if settings.round_at == "components":
            categories = {c: Fraction(rounding.apply(v)) for c, v in categories.items()}
            price = Fraction(rounding.apply(price))
        total_exact = sum(categories.values(), price)
        out[bidder] = BidderAggregate(bidder=bidder, per_expert=per_expert, kept_experts=kept,
                                      dropped_experts=dropped, categories=categories, price=price,
                                      total=rounding.apply(total_exact), total_exact=total_exact)
    return out
