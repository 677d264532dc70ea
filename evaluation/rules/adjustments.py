"""经评审的最低投标价法 (lowest evaluated price, R12 29–31): the committee's price adjustments.

Under this method the committee converts each valid bid into an *evaluated price*: the bid price
plus quantified adjustments (折算/调整) made by the tender's adjustment method — for example a
commercial deviation priced in, a longer payment term, a missing item added at the highest price
quoted by the others — each with its reason. The committee agrees the adjustments (the chair
records them); the report's price-comparison table (价格比较一览表) lists bid price, every
adjustment with its reason, and the evaluated price. Money is integer fen: no rounding anywhere.

- ``parse_adjustments(raw)``: ``[{"amount_fen": int ≠ 0, "reason": text}]``, at most
  ``MAX_ADJUSTMENTS``; an empty list states "no adjustment" for that bid.
- ``price_table(prices, adjustments)``: per valid bid ``(price, adjustment total, evaluated)``;
  ``price.evaluated_prices`` does the sum and refuses a non-positive evaluated price.
- ``check_complete(valid, adjusted)``: every valid bid has a recorded entry before the summary, so
  the record says the committee looked at each price, not that it forgot one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from common.errors import BadRequest, ErrorCode, PlatformError

from .price import evaluated_prices

MAX_ADJUSTMENTS = 50
MAX_REASON = 500


@dataclass(frozen=True)
class Adjustment:
    amount_fen: int  # signed: + adds to the evaluated price, − takes off
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"amount_fen": self.amount_fen, "reason": self.reason}


def parse_adjustments(raw: Any) -> tuple[Adjustment, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_ADJUSTMENTS:
        raise BadRequest(f"'adjustments' is a list of at most {MAX_ADJUSTMENTS} entries")
    out = []
    for n, entry in enumerate(raw):
        if not isinstance(entry, dict):
            raise BadRequest("an adjustment is {amount_fen, reason}", details={"index": n})
        amount, reason = entry.get("amount_fen"), entry.get("reason")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount == 0:
            raise BadRequest("an adjustment's amount is a non-zero integer number of fen", details={"index": n})
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise BadRequest(f"every adjustment states its reason (1 to {MAX_REASON} characters)",
                             details={"index": n})
        out.append(Adjustment(amount, reason.strip()))
    return tuple(out)


@dataclass(frozen=True)
class PriceRow:
    price_fen: int
    adjustment_fen: int
    evaluated_fen: int


def price_table(prices: Mapping[str, int], adjustments: Mapping[str, Sequence[Adjustment]]
                ) -> dict[str, PriceRow]:
    amounts = {b: [a.amount_fen for a in adjs] for b, adjs in adjustments.items()}
    evaluated = evaluated_prices(prices, amounts)
    return {b: PriceRow(prices[b], sum(amounts.get(b, ())), evaluated[b]) for b in sorted(evaluated)}


def check_complete(valid: Iterable[str], adjusted: Iterable[str]) -> None:
    missing = sorted(set(valid) - set(adjusted))
    if missing:
        raise PlatformError(ErrorCode.INVALID_STATE, "the committee records the adjustments of every valid "
                            "bid (an empty list for none) before the summary", details={"missing": missing})
