"""经评审的最低投标价法: the committee's price adjustments (evaluation/rules/adjustments.py) and the
replacement draw (evaluation/rules/draw.py, Reg 48). Worked examples, money in integer fen."""

import hashlib
import hmac

import pytest

from common.errors import ErrorCode, PlatformError
from evaluation.rules.adjustments import Adjustment, check_complete, parse_adjustments, price_table
from evaluation.rules.committee import Bidder, PoolExpert
from evaluation.rules.draw import (REPLACEMENT_LABEL, PoolSnapshot, ReplacementInput, canonical_replacement,
                                   commit, draw_replacement, verify_replacement)
from evaluation.rules.ranking import rank_lowest_evaluated


def code_of(fn, *args, **kwargs):
    with pytest.raises(PlatformError) as info:
        fn(*args, **kwargs)
    return info.value.code


def test_adjustments_are_non_zero_fen_each_with_a_reason():
    assert parse_adjustments([]) == ()
    assert parse_adjustments([{"amount_fen": 350_000, "reason": " 付款条件偏差 "},
                              {"amount_fen": -120_000, "reason": "工期提前"}]) == (
        Adjustment(350_000, "付款条件偏差"), Adjustment(-120_000, "工期提前"))
    for bad in ([{"amount_fen": 0, "reason": "x"}], [{"amount_fen": 1.5, "reason": "x"}],
                [{"amount_fen": "100", "reason": "x"}], [{"amount_fen": True, "reason": "x"}],
                [{"amount_fen": 100, "reason": "  "}], [{"amount_fen": 100}], ["100"], {"amount_fen": 1},
                [{"amount_fen": 1, "reason": "x" * 501}], [{"amount_fen": 1, "reason": "x"}] * 51):
        assert code_of(parse_adjustments, bad) == ErrorCode.BAD_REQUEST, bad


def test_the_price_table_and_the_ranking_use_the_evaluated_price():
    prices = {"A": 100_000_000, "B": 101_000_000, "C": 102_000_000, "D": 103_000_000}  # 1,000,000.00 元 …
    adjustments = {
        "A": parse_adjustments([{"amount_fen": 3_500_000, "reason": "付款条件偏差：按招标文件折算"}]),
        "B": (),
        "C": parse_adjustments([{"amount_fen": 500_000, "reason": "漏项按其他投标最高价补足"},
                                {"amount_fen": -1_000_000, "reason": "工期提前 20 天"}]),
        "D": (),
    }
    table = price_table(prices, adjustments)
    # A: 100,000,000 + 3,500,000 = 103,500,000; C: 102,000,000 + 500,000 − 1,000,000 = 101,500,000.
    assert {b: (r.price_fen, r.adjustment_fen, r.evaluated_fen) for b, r in table.items()} == {
        "A": (100_000_000, 3_500_000, 103_500_000), "B": (101_000_000, 0, 101_000_000),
        "C": (102_000_000, -500_000, 101_500_000), "D": (103_000_000, 0, 103_000_000)}
    ranking = rank_lowest_evaluated({b: r.evaluated_fen for b, r in table.items()}, prices)
    # The lowest bid price (A) ranks last once its deviation is priced in.
    assert ranking.bidders == ("B", "C", "D", "A") and ranking.candidates == ("B", "C", "D")
    assert code_of(price_table, {"A": 100}, {"A": parse_adjustments([{"amount_fen": -100, "reason": "x"}])}) \
        == ErrorCode.BAD_REQUEST  # an evaluated price stays positive
    assert code_of(price_table, {"A": 100}, {"Z": ()}) == ErrorCode.BAD_REQUEST


def test_every_valid_bid_needs_an_entry_before_the_summary():
    check_complete({"A", "B"}, {"A", "B", "X"})
    with pytest.raises(PlatformError) as info:
        check_complete({"A", "B", "C"}, {"B"})
    assert info.value.code == ErrorCode.INVALID_STATE and info.value.details["missing"] == ["A", "C"]


# --- the replacement draw (Reg 48) ----------------------------------------------------------------

SEED = hashlib.sha256(b"replacement seed for the tests").digest()


def e(id, region, category="technical", **over):
    return PoolExpert(id=id, region=region, category=category, **over)


def replacement_input(pool, **over):
    snapshot = PoolSnapshot(experts=tuple(pool), bidders=(Bidder("org-alice", ("张三",)),))
    fields = dict(snapshot=snapshot, region="main", staying=("m1", "m3", "s1", "t1"), out=("m2",), size=5)
    fields.update(over)
    return ReplacementInput(**fields)


POOL = [e("m1", "main"), e("m2", "main"), e("m3", "main", "economic"), e("m4", "main", employer="org-alice"),
        e("m5", "main"), e("m6", "main", related_people=("张 三",)), e("m7", "main", "other"),
        e("m8", "main"), e("s1", "sub", "other"), e("s9", "sub"), e("t1", "sub2")]


def test_the_replacement_is_the_first_eligible_expert_of_the_seat_region_by_the_seeds_hmac():
    inp = replacement_input(POOL)
    result = draw_replacement(inp, SEED)
    # Out of scope: staying members, the replaced m2, other regions (s9). Avoided with reasons: m4, m6.
    assert result.excluded == {"m4": ("employer_is_bidder",), "m6": ("related_to_bidder_manager",)}
    key = lambda i: hmac.new(SEED, REPLACEMENT_LABEL + i.encode(), hashlib.sha256).digest()  # noqa: E731
    assert result.order == tuple(sorted(("m5", "m7", "m8"), key=key))
    # s1 is already the one "other" expert a committee of 5 allows (5 // 3 = 1): m7 cannot come.
    assert result.expert == next(i for i in result.order if i != "m7")
    assert result.snapshot_sha256 == hashlib.sha256(canonical_replacement(inp)).hexdigest()


def test_the_replacement_draw_verifies_and_detects_tampering():
    inp = replacement_input(POOL)
    text = canonical_replacement(inp).decode()
    result = draw_replacement(inp, SEED)
    verify_replacement(text, SEED, commit(SEED), result.expert)
    other = next(i for i in ("m5", "m8") if i != result.expert)
    assert code_of(verify_replacement, text, SEED, commit(SEED), other) == ErrorCode.CONFLICT
    assert code_of(verify_replacement, text, SEED, "0" * 64, result.expert) == ErrorCode.CONFLICT
    assert code_of(verify_replacement, text.replace('"size":5', '"size":7'), SEED, commit(SEED),
                   result.expert) == ErrorCode.BAD_REQUEST


def test_an_empty_region_is_reported_as_too_small():
    pool = [e("m1", "main"), e("m2", "main"), e("m3", "main", "economic"), e("m4", "main", available=False),
            e("s1", "sub", "other"), e("t1", "sub2")]
    assert code_of(draw_replacement, replacement_input(pool), SEED) == ErrorCode.CONFLICT
    assert code_of(draw_replacement, replacement_input(POOL, staying=("m1", "m3", "s1")), SEED) == \
        ErrorCode.BAD_REQUEST  # the seat must be the one vacancy
