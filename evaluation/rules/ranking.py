"""Ranking, tie-breaks, the verifiable tie draw, and the recommended candidates.

Comprehensive scoring (综合评分法, F87 57; R12 35): total score descending; equal totals → lower price
first; still equal → the tender's own rule (``tender_keys``: named scores, each higher-first, in order,
e.g. the technical points), then the seeded draw (F87 57, 68).
Lowest evaluated price (R12 29–31): evaluated price ascending; equal → lower bid price first; then the
tender's rule, then the draw. Only bids that passed the compliance review are ranked.

The tie draw is verifiable: each tied bidder gets
``HMAC-SHA256(key=seed, msg=b"kaibiao/tie-draw/v1\\x00" + bidder_id UTF-8)`` and the smaller digest
(bytewise) ranks first. The seed is committed (``draw.commit``) before and revealed after; anyone can
recompute the order. Totals compare by their *rounded* value: the declared rounding decides what
"equal" means. When a tie is left and no seed is given, ``DrawNeeded`` (``INVALID_STATE``) lists the
tied groups so the session can draw a seed live.

At most 3 recommended candidates, ordered (Reg 53); a tender may ask for fewer.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from decimal import Decimal
from typing import Callable, Mapping, Sequence

from common.errors import BadRequest, ErrorCode, PlatformError

TIE_DRAW_LABEL = b"kaibiao/tie-draw/v1\x00"
MAX_CANDIDATES = 3
MIN_SEED_BYTES = 16


def tie_draw_key(seed: bytes, bidder: str) -> bytes:
    return hmac.new(seed, TIE_DRAW_LABEL + bidder.encode("utf-8"), hashlib.sha256).digest()


def check_seed(seed: bytes) -> bytes:
    if not isinstance(seed, (bytes, bytearray)) or len(seed) < MIN_SEED_BYTES:
        raise BadRequest(f"a draw seed is at least {MIN_SEED_BYTES} random bytes")
    return bytes(seed)


class DrawNeeded(PlatformError):
    def __init__(self, groups: list[list[str]]):
        super().__init__(ErrorCode.INVALID_STATE, "a tie remains: a random draw is needed (F87 57, 68)",
                         details={"tied": groups})
        self.groups = groups


@dataclass(frozen=True)
class Ranked:
    bidder: str
    rank: int  # 1-based position
    decided_by: str  # what separated it from the next: "score", "price", a tender key, "draw", "last"


@dataclass(frozen=True)
class Ranking:
    order: tuple[Ranked, ...]
    candidates: tuple[str, ...]
    draw_used: bool

    @property
    def bidders(self) -> tuple[str, ...]:
        return tuple(r.bidder for r in self.order)


def _rank(bidders: Sequence[str], keys: list[tuple[str, Callable[[str], object]]],
          seed: bytes | None, candidates: int) -> Ranking:
    if not isinstance(candidates, int) or not 1 <= candidates <= MAX_CANDIDATES:
        raise BadRequest(f"recommended candidates are 1 to {MAX_CANDIDATES} (Reg 53)")
    if len(set(bidders)) != len(bidders):
        raise BadRequest("bidder ids are unique")

    def full_key(b: str) -> tuple:
        return tuple(k(b) for _, k in keys)

    ordered = sorted(bidders, key=full_key)
    groups: list[list[str]] = []
    for b in ordered:
        if groups and full_key(groups[-1][0]) == full_key(b):
            groups[-1].append(b)
        else:
            groups.append([b])
    tied = [g for g in groups if len(g) > 1]
    draw_used = bool(tied)
    if tied:
        if seed is None:
            raise DrawNeeded([sorted(g) for g in tied])
        seed = check_seed(seed)
        groups = [sorted(g, key=lambda b: tie_draw_key(seed, b)) for g in groups]
    flat = [b for g in groups for b in g]
    order = []
    for i, b in enumerate(flat):
        if i + 1 == len(flat):
            decided = "last"
        else:
            nxt = flat[i + 1]
            decided = next((name for name, k in keys if k(b) != k(nxt)), "draw")
        order.append(Ranked(b, i + 1, decided))
    return Ranking(tuple(order), tuple(flat[:candidates]), draw_used)


def _tender_keys(tender_keys: Sequence[tuple[str, Mapping[str, Decimal]]]
                 ) -> list[tuple[str, Callable[[str], object]]]:
    # Each tender key is "higher first": negate for an ascending sort.
    return [(name, (lambda b, v=values: -Decimal(v[b]))) for name, values in tender_keys]


def rank_by_score(totals: Mapping[str, Decimal], prices: Mapping[str, int], *,
                  tender_keys: Sequence[tuple[str, Mapping[str, Decimal]]] = (),
                  seed: bytes | None = None, candidates: int = MAX_CANDIDATES) -> Ranking:
    """综合评分法: ``totals`` are the rounded per-bidder totals, ``prices`` the bid prices in fen."""
    if set(totals) != set(prices):
        raise BadRequest("every ranked bidder needs a total and a price")
    keys = [("score", lambda b: -Decimal(totals[b])), ("price", lambda b: prices[b])]
    return _rank(list(totals), keys + _tender_keys(tender_keys), seed, candidates)


def rank_lowest_evaluated(evaluated: Mapping[str, int], prices: Mapping[str, int], *,
                          tender_keys: Sequence[tuple[str, Mapping[str, Decimal]]] = (),
                          seed: bytes | None = None, candidates: int = MAX_CANDIDATES) -> Ranking:
    """经评审的最低投标价法: ``evaluated`` prices (fen, from ``price.evaluated_prices``) ascending."""
    if set(evaluated) != set(prices):
        raise BadRequest("every ranked bidder needs an evaluated price and a bid price")
    keys = [("evaluated_price", lambda b: evaluated[b]), ("price", lambda b: prices[b])]
    return _rank(list(evaluated), keys + _tender_keys(tender_keys), seed, candidates)
