"""Ranking, tie-breaks and the verifiable tie draw (evaluation/rules/ranking.py; F87 57, 68; Reg 53)."""

import hashlib
import hmac
from decimal import Decimal as D

import pytest

from common.errors import ErrorCode, PlatformError
from evaluation.rules.ranking import DrawNeeded, rank_by_score, rank_lowest_evaluated

WAN = 1_000_000
SEED = bytes(range(32))
TOTALS = {"A": D("90.00"), "B": D("88.50"), "C": D("88.50"), "D": D("88.50"), "E": D("70.00")}
PRICES = {"A": 99 * WAN, "B": 95 * WAN, "C": 93 * WAN, "D": 93 * WAN, "E": 80 * WAN}


def hmac_order(seed, bidders):
    """Recompute the published rule: HMAC-SHA256(seed, "kaibiao/tie-draw/v1\\0" + id), smaller first."""
    return sorted(bidders, key=lambda b: hmac.new(seed, b"kaibiao/tie-draw/v1\x00" + b.encode(),
                                                  hashlib.sha256).digest())


def test_higher_score_first_then_lower_price_then_the_seeded_draw():
    ranking = rank_by_score(TOTALS, PRICES, seed=SEED)
    # A 90 first; B, C, D tie at 88.50: C and D (93 万) before B (95 万); C vs D by the draw; E last.
    first, second = hmac_order(SEED, ["C", "D"])
    assert ranking.bidders == ("A", first, second, "B", "E")
    assert [r.decided_by for r in ranking.order] == ["score", "draw", "price", "score", "last"]
    assert ranking.candidates == ("A", first, second)
    assert ranking.draw_used is True


def test_another_seed_can_change_only_the_drawn_order():
    orders = {rank_by_score(TOTALS, PRICES, seed=bytes([i]) * 32).bidders for i in range(16)}
    assert len(orders) == 2  # C/D swap with the seed; nothing else moves
    assert all(o[0] == "A" and o[3:] == ("B", "E") for o in orders)


def test_a_remaining_tie_without_a_seed_asks_for_a_draw():
    with pytest.raises(DrawNeeded) as info:
        rank_by_score(TOTALS, PRICES)
    assert info.value.code == ErrorCode.INVALID_STATE
    assert info.value.details == {"tied": [["C", "D"]]}


def test_no_draw_is_needed_when_price_separates_the_tie():
    prices = {**PRICES, "D": 94 * WAN}
    ranking = rank_by_score(TOTALS, prices)
    assert ranking.bidders == ("A", "C", "D", "B", "E") and ranking.draw_used is False


def test_the_tenders_rule_comes_before_the_draw():
    technical = {"A": D(50), "B": D(50), "C": D("40.5"), "D": D("41"), "E": D(30)}
    ranking = rank_by_score(TOTALS, PRICES, tender_keys=[("technical", technical)])
    # C and D tie on score and price; D has the higher technical score
    assert ranking.bidders == ("A", "D", "C", "B", "E")
    assert ranking.order[1].decided_by == "technical"


def test_at_most_three_candidates_or_fewer_if_the_tender_says_so():
    assert rank_by_score(TOTALS, PRICES, seed=SEED, candidates=1).candidates == ("A",)
    for bad in (0, 4):
        with pytest.raises(PlatformError):
            rank_by_score(TOTALS, PRICES, seed=SEED, candidates=bad)


def test_a_short_seed_is_refused():
    with pytest.raises(PlatformError):
        rank_by_score(TOTALS, PRICES, seed=b"short")


def test_lowest_evaluated_price_ranks_ascending_then_by_bid_price_then_draw():
    evaluated = {"A": 100 * WAN, "B": 98 * WAN, "C": 98 * WAN, "D": 98 * WAN}
    prices = {"A": 100 * WAN, "B": 97 * WAN, "C": 95 * WAN, "D": 95 * WAN}
    ranking = rank_lowest_evaluated(evaluated, prices, seed=SEED)
    first, second = hmac_order(SEED, ["C", "D"])
    # B, C, D at 98 万 evaluated; C and D bid 95 万 (< 97): they come first, by the draw; A last
    assert ranking.bidders == (first, second, "B", "A")
    assert ranking.candidates == (first, second, "B")
    assert [r.decided_by for r in ranking.order] == ["draw", "price", "evaluated_price", "last"]
