"""Price-score formulas on worked examples computed by hand (evaluation/rules/price.py)."""

from decimal import Decimal as D
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import PlatformError
from evaluation.rules.numbers import Rounding
from evaluation.rules.price import (construction_scores, evaluated_prices, f87_scores, score_prices,
                                    trimmed_price_mean)
from evaluation.rules.settings import validate_evaluation_settings

WAN = 1_000_000  # 1 万元 = 10,000 元 = 1,000,000 fen


def test_f87_scores_the_lowest_price_full_marks_and_others_in_proportion():
    prices = {"a": 100 * WAN, "b": 95 * WAN, "c": 90 * WAN}
    result = f87_scores(prices, full_marks=30)
    # benchmark = lowest valid price = 90 万元
    assert result.benchmark == 90 * WAN
    # a: 90 / 100 × 30 = 27            → 27.00
    # b: 90 / 95 × 30 = 2700 / 95 = 28.42105263…  → 28.42 (ROUND_HALF_UP, 2 decimals)
    # c: 90 / 90 × 30 = 30             → 30.00
    assert result.rounded == {"a": D("27.00"), "b": D("28.42"), "c": D("30.00")}
    assert result.exact["b"] == Fraction(540, 19)  # 2700 / 95, exact


def test_f87_rounds_half_up_not_half_even():
    # 150 / 160 × 30 = 0.9375 × 30 = 28.125 exactly: HALF_UP gives 28.13 (HALF_EVEN would give 28.12)
    result = f87_scores({"low": 150 * WAN, "high": 160 * WAN}, full_marks=30)
    assert result.exact["high"] == D("28.125")
    assert result.rounded["high"] == D("28.13")
    # a tender that declares HALF_EVEN gets 28.12
    even = f87_scores({"low": 150 * WAN, "high": 160 * WAN}, full_marks=30,
                      rounding=Rounding("ROUND_HALF_EVEN", 2))
    assert even.rounded["high"] == D("28.12")


def test_f87_does_not_discard_the_highest_or_lowest_price():
    # 5 bids: the lowest (50) stays the benchmark; nothing is trimmed (F87 55).
    prices = {"a": 50 * WAN, "b": 90 * WAN, "c": 95 * WAN, "d": 100 * WAN, "e": 200 * WAN}
    result = f87_scores(prices, full_marks=30)
    assert result.benchmark == 50 * WAN
    # e: 50 / 200 × 30 = 7.5
    assert result.rounded["e"] == D("7.50") and result.rounded["a"] == D("30.00")


def test_f87_refuses_floats_and_non_positive_prices():
    for bad in ({"a": 100.0}, {"a": 0}, {"a": -5}, {"a": True}, {}):
        with pytest.raises(PlatformError):
            f87_scores(bad, full_marks=30)
    with pytest.raises(PlatformError):
        f87_scores({"a": 100}, full_marks=30.0)


SIX = {"a": 112 * WAN, "b": 104 * WAN, "c": 101 * WAN, "d": 99 * WAN, "e": 96 * WAN, "f": 90 * WAN}


def test_construction_formula_worked_example_with_six_bids():
    result = construction_scores(SIX, full_marks=30, k_percent=-2, rate_above=1, rate_below="0.5")
    # 6 ≥ 5 bids: drop the highest (112) and the lowest (90)
    assert result.dropped == (90 * WAN, 112 * WAN)
    # mean = (104 + 101 + 99 + 96) / 4 = 400 / 4 = 100 万元 (untrimmed would be 602 / 6 = 100.33)
    assert result.mean == 100 * WAN
    # benchmark = 100 × (1 − 2 %) = 98 万元
    assert result.benchmark == 98 * WAN
    # d = (price − 98) / 98 × 100 %; above: 30 − 1 × d; below: 30 − 0.5 × |d|
    # a 112: d = 14/98 × 100 = 14.285714…  → 30 − 14.285714… = 15.714285… → 15.71
    # b 104: d =  6/98 × 100 =  6.122448…  → 30 −  6.122448… = 23.877551… → 23.88
    # c 101: d =  3/98 × 100 =  3.061224…  → 30 −  3.061224… = 26.938775… → 26.94
    # d  99: d =  1/98 × 100 =  1.020408…  → 30 −  1.020408… = 28.979591… → 28.98
    # e  96: d = −2/98 × 100 = −2.040816…  → 30 − 0.5 × 2.040816… = 28.979591… → 28.98
    # f  90: d = −8/98 × 100 = −8.163265…  → 30 − 0.5 × 8.163265… = 25.918367… → 25.92
    assert result.rounded == {"a": D("15.71"), "b": D("23.88"), "c": D("26.94"), "d": D("28.98"),
                              "e": D("28.98"), "f": D("25.92")}
    assert result.deviations["a"] == Fraction(100, 7)  # 14.285714…
    assert result.deviations["f"] == Fraction(-400, 49)  # −8.163265…


def test_construction_formula_does_not_trim_below_the_threshold():
    # 6 bids with trim_from = 7: mean = 602 / 6 = 100.333… 万元, benchmark = mean × 0.98 = 98.32666…
    result = construction_scores(SIX, full_marks=30, k_percent=-2, trim_from=7)
    assert result.dropped == ()
    assert result.mean == Fraction(301_000_000, 3)  # fen, 100,333,333.33…
    # d: 99 vs 98.32666…: (99 − 98.326667) / 98.326667 × 100 = 0.684796…% → 30 − 0.684796 = 29.3152… → 29.32
    assert result.rounded["d"] == D("29.32")


def test_construction_formula_drops_exactly_one_price_at_each_tied_extreme():
    prices = {"a": 100 * WAN, "b": 100 * WAN, "c": 95 * WAN, "d": 90 * WAN, "e": 90 * WAN}
    # sorted: 90 90 95 100 100 → drop one 90 and one 100 → mean (90 + 95 + 100) / 3 = 95
    mean, dropped = trimmed_price_mean(list(prices.values()))
    assert (mean, dropped) == (95 * WAN, (90 * WAN, 100 * WAN))


def test_construction_formula_interpolates_linearly_within_a_percent():
    # single bid: mean = benchmark (K = 0); second bid 0.5 % above → 30 − 0.5 = 29.5 (no stepping)
    prices = {"a": 200 * WAN, "b": 201 * WAN, "c": 199 * WAN}
    # mean = 200 (3 < 5: no trimming); b: d = 1/200 × 100 = 0.5 % → 29.50; c: d = −0.5 % → 30 − 0.25 = 29.75
    result = construction_scores(prices, full_marks=30, k_percent=0)
    assert result.rounded == {"a": D("30.00"), "b": D("29.50"), "c": D("29.75")}


def test_construction_formula_floors_at_zero():
    # mean = (100 + 100 + 160) / 3 = 120; c: d = 40/120 × 100 = 33.33 % → 30 − 33.33 < 0 → 0
    result = construction_scores({"a": 100 * WAN, "b": 100 * WAN, "c": 160 * WAN}, full_marks=30,
                                 k_percent=0)
    assert result.rounded["c"] == D("0.00")


def test_lowest_evaluated_price_adds_the_quantified_adjustments():
    prices = {"a": 100 * WAN, "b": 98 * WAN}
    # b: 98 万元 + 3 万元 (longer schedule) − 0.5 万元 (better warranty) = 100.5 万元
    out = evaluated_prices(prices, {"b": [3 * WAN, -WAN // 2]})
    assert out == {"a": 100 * WAN, "b": 100 * WAN + WAN // 2}
    with pytest.raises(PlatformError):
        evaluated_prices(prices, {"zzz": [1]})
    with pytest.raises(PlatformError):
        evaluated_prices(prices, {"a": [1.5]})


def test_score_prices_follows_the_tender_settings():
    settings = validate_evaluation_settings({"price_formula": "construction_mean"})
    result = score_prices(settings, SIX, k_percent="-2")
    assert result.rounded["a"] == D("15.71")  # same as the worked example (weight 30 = full marks)
    with pytest.raises(PlatformError):
        score_prices(settings, SIX, k_percent="-4")  # outside the default [-3, 0]
    with pytest.raises(PlatformError):
        score_prices(settings, SIX)
    f87 = score_prices(validate_evaluation_settings({}), {"a": 100 * WAN, "b": 95 * WAN, "c": 90 * WAN})
    assert f87.rounded["b"] == D("28.42")


fen = st.integers(min_value=1, max_value=10**12)
price_maps = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=3), fen, min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(price_maps, st.integers(min_value=1, max_value=100))
def test_f87_scores_stay_within_zero_and_full_and_a_lower_price_never_scores_less(prices, full):
    result = f87_scores(prices, full_marks=full)
    for bidder, score in result.exact.items():
        assert D(0) < score <= full
        assert D(0) <= result.rounded[bidder] <= full
    ordered = sorted(prices, key=prices.get)
    for lower, higher in zip(ordered, ordered[1:]):
        assert result.exact[lower] >= result.exact[higher]
        assert result.rounded[lower] >= result.rounded[higher]


@settings(max_examples=150, deadline=None)
@given(price_maps, st.integers(min_value=-300, max_value=0), st.integers(min_value=0, max_value=300),
       st.integers(min_value=0, max_value=300))
def test_construction_scores_stay_within_zero_and_full(prices, k_hundredths, above, below):
    result = construction_scores(prices, full_marks=30, k_percent=D(k_hundredths) / 100,
                                 rate_above=D(above) / 100, rate_below=D(below) / 100)
    for bidder, score in result.exact.items():
        assert D(0) <= score <= 30
        assert D(0) <= result.rounded[bidder] <= 30
