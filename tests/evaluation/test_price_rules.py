"""The price rules as data (evaluation/rules/price_rule.py, price.py): worked examples from published
tender documents, every trimming-table row, exact ties in both rounding modes, and a property test
against a plain-Fraction reference written independently here."""

from decimal import Decimal as D
from fractions import Fraction as F

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.errors import PlatformError
from evaluation.rules import aggregate as agg
from evaluation.rules.exact import ratio_text, round_exact, to_fraction
from evaluation.rules.numbers import Rounding
from evaluation.rules.price import (deduction_for, f87_scores, reject_above_ceiling, score_with_rule,
                                    trimmed_mean)
from evaluation.rules.price_rule import parse_price_rule, rule_from_settings

WAN = 1_000_000  # 1 万元 in fen
HALF_UP = Rounding("ROUND_HALF_UP", 2)


def rule(benchmark=None, score=None, ceiling_fen=None):
    raw = {"benchmark": benchmark or {"kind": "lowest"}, "score": score or {"kind": "ratio"}}
    if ceiling_fen is not None:
        raw["ceiling_fen"] = ceiling_fen
    return parse_price_rule(raw)


def wan(**prices):
    return {b: p * WAN for b, p in prices.items()}


# --- exact rounding --------------------------------------------------------------------------------

@pytest.mark.parametrize("value, mode, expected", [
    (F(455, 8), "ROUND_HALF_UP", "56.88"), (F(455, 8), "ROUND_HALF_EVEN", "56.88"),
    (F(455, 8), "ROUND_HALF_DOWN", "56.87"), (F(453, 8), "ROUND_HALF_EVEN", "56.62"),
    (F(-455, 8), "ROUND_HALF_UP", "-56.88"), (F(-455, 8), "ROUND_FLOOR", "-56.88"),
    (F(-455, 8), "ROUND_CEILING", "-56.87"), (F(-455, 8), "ROUND_DOWN", "-56.87"),
    (F(1, 3), "ROUND_UP", "0.34"), (F(-1, 300), "ROUND_HALF_UP", "0.00"), (F(0), "ROUND_UP", "0.00"),
])
def test_round_exact_follows_the_named_mode_on_exact_half_way_values(value, mode, expected):
    assert str(round_exact(value, 2, mode)) == expected


@given(st.integers(-10 ** 9, 10 ** 9), st.integers(0, 6), st.sampled_from(sorted(
    {"ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_HALF_DOWN", "ROUND_DOWN", "ROUND_UP", "ROUND_FLOOR",
     "ROUND_CEILING"})))
@settings(max_examples=300, deadline=None)
def test_round_exact_agrees_with_decimal_on_values_decimal_holds_exactly(n, places, mode):
    import decimal
    value = D(n).scaleb(-places - 1)  # one more digit than kept: every mode's half-way cases occur
    expected = value.quantize(D(1).scaleb(-places), rounding=getattr(decimal, mode))
    assert round_exact(F(value), places, mode) == expected


def test_fractions_are_refused_from_floats_and_parsed_from_exact_text():
    for bad in (0.1, True, "1e5", "nan", "1/0", "", None):
        with pytest.raises(PlatformError):
            to_fraction(bad)
    assert to_fraction("455/8") == F(455, 8) and to_fraction("-2.5") == F(-5, 2)
    assert ratio_text(F(540, 19)) == "540/19" and to_fraction(ratio_text(F(540, 19))) == F(540, 19)


# --- exact ties in the total: the 34-digit Decimal chain rounded these the wrong way ---------------

ITEMS = [{"id": "t", "category": "technical", "kind": "subjective", "max": "45", "step": "0.5"},
         {"id": "b", "category": "business", "kind": "subjective", "max": "30", "step": "0.5"}]
WEIGHTS = {"price": D(30), "technical": D(60), "business": D(10)}


def _total(items, sheets, price, mode):
    settings_ = agg.AggregateSettings(weights=WEIGHTS, rounding=Rounding(mode, 2))
    return agg.aggregate(items, sheets, experts=sorted(sheets), price_scores={"A": price},
                         settings=settings_)["A"]


def test_an_exact_half_way_total_rounds_half_up_to_the_upper_cent():
    """price 30 × 94/96 = 29.375; technical: items sum 115 over 5 experts = 23, × 60/45 = 92/3;
    business: 80 / 5 = 16, × 10/30 = 16/3; total = 29.375 + 36 = 65.375 exactly → 65.38 half up.
    (The former 34-digit Decimal chain carried 65.37499…99 and gave 65.37.)"""
    t, b = ["39.5", "2.5", "8", "28", "37"], ["18.5", "25", "22.5", "9.5", "4.5"]
    sheets = {f"e{i}": {"A": {"t": t[i], "b": b[i]}} for i in range(5)}
    price = f87_scores({"A": 96, "Z": 94}, full_marks=30).exact["A"]
    result = _total(ITEMS, sheets, price, "ROUND_HALF_UP")
    assert result.total_exact == F(523, 8) and result.total == D("65.38")
    assert _total(ITEMS, sheets, price, "ROUND_HALF_EVEN").total == D("65.38")  # 7 is odd: up
    assert _total(ITEMS, sheets, price, "ROUND_HALF_DOWN").total == D("65.37")


def test_an_exact_half_way_total_rounds_half_even_to_the_even_cent():
    """price 30 × 63/144 = 13.125; technical 260.5 / 5 = 52.1, × 60/90 = 34.7333…; business
    80.5 / 5 = 16.1, × 10/30 = 5.3666…; total 53.225 exactly → 53.22 half even, 53.23 half up.
    (The former chain carried 53.22500…01 and gave 53.23 under half even.)"""
    items = [dict(ITEMS[0], max="90"), ITEMS[1]]
    t, b = ["11", "70.5", "80", "17", "82"], ["24", "29.5", "12.5", "7", "7.5"]
    sheets = {f"e{i}": {"A": {"t": t[i], "b": b[i]}} for i in range(5)}
    price = f87_scores({"A": 144, "Z": 63}, full_marks=30).exact["A"]
    assert _total(items, sheets, price, "ROUND_HALF_EVEN").total == D("53.22")
    assert _total(items, sheets, price, "ROUND_HALF_UP").total == D("53.23")


# --- worked examples from published tender documents ------------------------------------------------

HUATUO_RULE = {  # 《评标办法》2.2.2–2.2.6 (huatuo0.cn/wenku/rgdhd/Pg4Q9MVAyG)
    "benchmark": {"kind": "mean", "trim": [{"from": 6, "high": 1, "low": 0}, {"from": 7, "high": 1, "low": 1}],
                  "k": {"min": "-5", "max": "-5"}},
    "score": {"kind": "deviation", "deduction": "linear", "above": "1.2", "below": "0.8", "floor": "0"}}


def test_huatuo_evaluation_method_six_bids_drop_only_the_highest():
    """《评标办法》2.2.2–2.2.6 (published on huatuo0.cn): ≤ 5 valid bids no trimming, exactly 6 drop
    the highest, ≥ 7 drop the highest and the lowest; benchmark = mean × (1 − 5 %); score =
    100 − 100n × |price − benchmark| / benchmark, n = 0.8 at or below, 1.2 above; 2 decimals; ≥ 0.

    Six bids 100, 98, 96, 95, 93, 110 万元: 110 dropped, mean = 482 / 5 = 96.4, benchmark = 91.58;
    93: d = 1.42 / 91.58 = 1.5506 % → 100 − 1.2 × 1.5506 = 98.139… → 98.14;
    110: d = 18.42 / 91.58 = 20.1136 % → 75.8637… → 75.86 (still scored: dropping is for the mean)."""
    prices = wan(a=100, b=98, c=96, d=95, e=93, f=110)
    result = score_with_rule(parse_price_rule(HUATUO_RULE), prices, full_marks=100, rounding=HALF_UP, k="-5")
    assert result.mean == F(482 * WAN, 5) and result.dropped == (110 * WAN,)
    assert result.benchmark == F(9158 * WAN, 100)
    assert result.rounded == {"a": D("88.97"), "b": D("91.59"), "c": D("94.21"), "d": D("95.52"),
                              "e": D("98.14"), "f": D("75.86")}


def test_thebid_correction_notice_998201_drops_the_highest_and_lowest_from_five():
    """更正公告 thebid.cn/gonggao/998201 (投标报价计算公式): S = (Σ a − M − N) / (n − 2) for n ≥ 5;
    Y = 60 − P × K × 100 with K = 0.2 above S, 0.1 below, 2 decimals, Y ≥ 0.

    512, 498, 505, 470, 530 万元: S = (512 + 498 + 505) / 3 = 505; 512: P = 7/505 → 60 − 0.2 ×
    1.3861 = 59.7228 → 59.72; 470: 60 − 0.1 × 6.9307 = 59.3069 → 59.31; 530: 59.0099 → 59.01."""
    rule_ = parse_price_rule({"benchmark": {"kind": "mean", "trim": [{"from": 5, "high": 1, "low": 1}]},
                              "score": {"kind": "deviation", "above": "0.2", "below": "0.1"}})
    result = score_with_rule(rule_, wan(a=512, b=498, c=505, d=470, e=530), full_marks=60, rounding=HALF_UP)
    assert result.benchmark == 505 * WAN and result.dropped == (470 * WAN, 530 * WAN)
    assert result.exact["a"] == F(6032, 101)
    assert result.rounded == {"a": D("59.72"), "b": D("59.86"), "c": D("60.00"), "d": D("59.31"), "e": D("59.01")}


def test_huanbaozhaobiao_amendment_caps_the_deduction_at_five_points():
    """招标文件更正 (huanbaozhaobiao.com, 评标办法前附表 2.2.4(3)): 30 points; d > 0: 30 − d × 100 × 0.2;
    d < 0: 30 + d × 100 × 0.1; 投标报价得分最多减5分 — the floor is 25.

    100, 130, 80 万元, mean 310/3: 130 is 25.81 % above → 30 − 5.16 = 24.84, floored to 25.00;
    80 is 22.58 % below → 30 − 2.258 = 27.74; 100: 3.23 % below → 29.68."""
    rule_ = parse_price_rule({"benchmark": {"kind": "mean"},
                              "score": {"kind": "deviation", "above": "0.2", "below": "0.1", "floor": "25"}})
    result = score_with_rule(rule_, wan(a=100, b=130, c=80), full_marks=30, rounding=HALF_UP)
    assert result.rounded == {"a": D("29.68"), "b": D("25.00"), "c": D("27.74")}
    assert result.details["b"].deviation == F(800, 31) and result.details["b"].deduction == F(160, 31)
    assert result.exact["b"] == 25


def test_dybbs8_method_rounds_the_deviation_to_two_decimals_before_scoring():
    """评标定标办法 (dybbs8.com/excel/391645): 40 points at the benchmark; −1 per 1 % below, −3 per 1 %
    above; 中间值采取插值法保留两位小数 (here: the deviation kept to 2 decimals), 减满为止 (floor 0).

    200, 190, 212, 180 万元, mean 195.5: 200 is 2.30179 % above → 2.30 → 40 − 6.90 = 33.10;
    190: −2.81330 → −2.81 → 37.19; 212: 8.43990 → 8.44 → 14.68; 180: −7.92839 → −7.93 → 32.07."""
    raw = {"benchmark": {"kind": "mean"}, "score": {"kind": "deviation", "above": "3", "below": "1",
                                                     "deviation_rounding": {"mode": "ROUND_HALF_UP", "decimals": 2}}}
    result = score_with_rule(parse_price_rule(raw), wan(a=200, b=190, c=212, d=180), full_marks=40, rounding=HALF_UP)
    assert result.details["a"].deviation_used == F(230, 100)
    assert result.rounded == {"a": D("33.10"), "b": D("37.19"), "c": D("14.68"), "d": D("32.07")}
    exact = score_with_rule(parse_price_rule({**raw, "score": {**raw["score"], "deviation_rounding": None}}),
                            wan(a=200, b=190, c=212, d=180), full_marks=40, rounding=HALF_UP)
    assert exact.rounded["a"] == D("33.09")  # 40 − 3 × 2.30179 = 33.0946: rounding d first changes the cent


def test_jamoxi_rule_caps_each_side_differently_with_interpolated_bands():
    """A tender's rule quoted on jamoxi.com (thread 20200624/12652671): 每高于基准价1%减1分，最多减20分；
    每低于基准价1%减0.3分，最多减5分 — bands: above 1 per % up to 20 %, then 0; below 0.3 per % up
    to 16⅔ % (5 points), then 0. 30 points, benchmark the mean of 100 and 150 and 50 (= 100)."""
    raw = {"benchmark": {"kind": "mean"},
           "score": {"kind": "deviation", "deduction": "interpolated",
                     "above_bands": [{"upto": "20", "rate": "1"}, {"rate": "0"}],
                     "below_bands": [{"upto": "50/3", "rate": "0.3"}, {"rate": "0"}]}}
    result = score_with_rule(parse_price_rule(raw), wan(a=100, b=150, c=50), full_marks=30, rounding=HALF_UP)
    assert result.exact == {"a": 30, "b": 10, "c": 25}  # +50 %: −20 (cap); −50 %: −5 (cap)
    near = score_with_rule(parse_price_rule(raw), wan(a=100, b=110, c=90), full_marks=30, rounding=HALF_UP)
    assert near.exact == {"a": 30, "b": 20, "c": 27}  # +10 %: −10; −10 %: −3


def test_f87_article_55_the_lowest_valid_price_scores_full_marks():
    """财政部令第87号 Art. 55: 投标报价得分 = (评标基准价 / 投标报价) × 价格权值 × 100, the benchmark
    the lowest price that meets the tender; here the weight 30 % → 30 points."""
    result = f87_scores(wan(a=100, b=95, c=90), full_marks=30)
    assert result.benchmark == 90 * WAN and result.exact["b"] == F(540, 19)
    assert result.rounded == {"a": D("27.00"), "b": D("28.42"), "c": D("30.00")}


# --- deductions: stepped, ignored, linear ------------------------------------------------------------

@pytest.mark.parametrize("mode, d, expected", [
    ("stepped", F(1, 10 ** 6), 1), ("stepped", F(1), 1), ("stepped", F(101, 100), 2),  # 不足1%按1%计
    ("ignored", F(99, 100), 0), ("ignored", F(1), 1), ("ignored", F(299, 100), 2),  # 不足1%不计
    ("linear", F(3, 2), F(3, 2)), ("stepped", F(-5, 2), F(3, 2)), ("ignored", F(-5, 2), 1),
])
def test_deductions_count_whole_steps_as_the_tender_says(mode, d, expected):
    rate_above, rate_below = "1", "0.5"
    rule_ = rule({"kind": "mean"}, {"kind": "deviation", "deduction": mode, "above": rate_above, "below": rate_below})
    assert deduction_for(rule_, d) == F(expected)


def test_a_half_percent_step_counts_half_percents():
    rule_ = rule({"kind": "mean"}, {"kind": "deviation", "deduction": "stepped", "step": "0.5",
                                   "above": "1", "below": "1"})
    assert deduction_for(rule_, F(6, 10)) == 2  # 0.6 % is two started half-percent steps


# --- the trimming table, K, the composite benchmark, the ceiling ----------------------------------------

TABLE = parse_price_rule(HUATUO_RULE).trim


@pytest.mark.parametrize("n", range(3, 21))
def test_every_row_of_the_trimming_table_applies_from_its_count(n):
    prices = [(100 + i) * WAN for i in range(n)]
    mean, dropped = trimmed_mean(prices, TABLE)
    if n <= 5:
        assert dropped == () and mean == F(sum(prices), n)
    elif n == 6:
        assert dropped == (max(prices),) and mean == F(sum(prices) - max(prices), 5)
    else:
        assert sorted(dropped) == [min(prices), max(prices)]
        assert mean == F(sum(prices) - min(prices) - max(prices), n - 2)


def test_equal_prices_at_the_extremes_drop_only_as_many_as_the_row_says():
    prices = [90, 90, 90, 100, 110, 110, 110]
    mean, dropped = trimmed_mean(prices, TABLE)
    assert dropped == (90, 110) and mean == F(90 * 2 + 100 + 110 * 2, 5)


@pytest.mark.parametrize("k, benchmark", [("-3", F(97)), ("2", F(102)), ("0", F(100))])
def test_k_negative_and_positive_moves_the_benchmark(k, benchmark):
    rule_ = rule({"kind": "mean", "k": {"min": "-3", "max": "3"}}, {"kind": "deviation", "above": "1", "below": "1"})
    result = score_with_rule(rule_, {"a": 90, "b": 100, "c": 110}, full_marks=30, k=k)
    assert result.benchmark == benchmark
    with pytest.raises(PlatformError):
        score_with_rule(rule_, {"a": 90, "b": 100, "c": 110}, full_marks=30, k="3.5")
    with pytest.raises(PlatformError):
        score_with_rule(rule_, {"a": 90, "b": 100, "c": 110}, full_marks=30)


def test_the_composite_benchmark_weighs_the_discounted_ceiling_and_the_mean():
    """A × 最高投标限价 × (1 − 下浮率) + B × mean with A = 0.3, B = 0.7, 下浮率 5 %: ceiling 120 万元,
    mean of 100, 104, 108 = 104 → 0.3 × 114 + 0.7 × 104 = 34.2 + 72.8 = 107 万元."""
    rule_ = rule({"kind": "composite", "ceiling_weight": "0.3", "mean_weight": "0.7", "ceiling_discount": "5"},
                 {"kind": "deviation", "above": "1", "below": "0.5"}, ceiling_fen=120 * WAN)
    result = score_with_rule(rule_, wan(a=100, b=104, c=108), full_marks=30)
    assert result.benchmark == 107 * WAN and result.mean == 104 * WAN
    # 108: d = 1/107 × 100 = 0.9346 % → 30 − 0.9346 = 29.07
    assert result.rounded["c"] == D("29.07")
    with pytest.raises(PlatformError):
        rule({"kind": "composite", "ceiling_weight": "0.3", "mean_weight": "0.7"},
             {"kind": "deviation", "above": "1", "below": "1"})  # no ceiling stated


def test_bids_above_the_ceiling_are_rejected_and_the_ceiling_itself_is_not():
    """实施条例 51(五): a bid above the 最高投标限价 is rejected."""
    assert reject_above_ceiling({"a": 100, "b": 101, "c": 99}, 100) == {"b": 101}
    assert reject_above_ceiling({"a": 100}, None) == {}


@pytest.mark.parametrize("raw", [
    {"benchmark": {"kind": "median"}}, {"benchmark": {"kind": "lowest", "trim": []}},
    {"benchmark": {"kind": "mean", "trim": [{"from": 2, "high": 1, "low": 1}]}, "score": {"kind": "deviation", "above": "1", "below": "1"}},
    {"benchmark": {"kind": "mean", "trim": [{"from": 5, "high": 1}, {"from": 5, "low": 1}]}},
    {"benchmark": {"kind": "mean"}, "score": {"kind": "ratio"}},
    {"benchmark": {"kind": "mean"}, "score": {"kind": "deviation", "deduction": "cubic"}},
    {"benchmark": {"kind": "mean"}, "score": {"kind": "deviation", "above": 1.5, "below": "1"}},
    {"benchmark": {"kind": "mean"}, "score": {"kind": "deviation", "deduction": "interpolated", "above": "1"}},
    {"benchmark": {"kind": "mean"}, "score": {"kind": "deviation", "deduction": "interpolated",
                                               "above_bands": [{"rate": "1"}, {"upto": "3", "rate": "1"}],
                                               "below_bands": [{"rate": "1"}]}},
    {"benchmark": {"kind": "mean", "k": {"min": "1", "max": "-1"}}},
    {"benchmark": {"kind": "lowest"}, "extra": 1},
])
def test_a_malformed_rule_is_a_bad_request(raw):
    with pytest.raises(PlatformError) as caught:
        parse_price_rule(raw)
    assert caught.value.code.value == "bad_request"


def test_the_rule_reads_back_as_the_data_it_was_declared_with():
    declared = parse_price_rule(HUATUO_RULE)
    assert parse_price_rule(declared.as_dict()) == declared
    flat = rule_from_settings({"weights": {"price": "30"}, "price_formula": "construction_mean",
                               "trim_prices_from": 5, "rate_above": "1", "rate_below": "0.5",
                               "k_min": "-3", "k_max": "0"})
    assert flat.as_dict()["benchmark"]["trim"] == [{"from": 5, "high": 1, "low": 1}]


# --- the property test: every formula against a plain Fraction reference ---------------------------------

def reference(raw, prices, full, k, places, mode):
    """An independent plain-Fraction reading of the rule, written from docs/evaluation.md."""
    values = sorted(F(p) for p in prices.values())
    bench = raw["benchmark"]
    if bench["kind"] == "lowest":
        b = values[0]
        return {x: round_exact(b / F(p) * full, places, mode) for x, p in prices.items()}
    rows = [r for r in bench.get("trim", []) if r["from"] <= len(values)]
    kept = values
    if rows:
        row = max(rows, key=lambda r: r["from"])
        kept = values[row["low"]:len(values) - row["high"]]
    b = sum(kept) / len(kept)
    if bench["kind"] == "composite":
        b = F(bench["ceiling_weight"]) * F(raw["ceiling_fen"]) * (1 - F(bench["ceiling_discount"]) / 100) \
            + F(bench["mean_weight"]) * b
    if bench.get("k"):
        b *= 1 + F(k) / 100
    sc = raw["score"]
    out = {}
    for x, p in prices.items():
        d = (F(p) - b) * 100 / b
        if sc.get("deviation_rounding"):
            d = F(round_exact(d, sc["deviation_rounding"]["decimals"], sc["deviation_rounding"]["mode"]))
        rate = F(sc["above"] if d > 0 else sc["below"])
        steps = abs(d) / F(sc.get("step", "1"))
        if sc["deduction"] == "stepped":
            steps = -(-steps.numerator // steps.denominator)
        elif sc["deduction"] == "ignored":
            steps = steps.numerator // steps.denominator
        out[x] = round_exact(max(full - rate * steps, F(sc.get("floor", "0"))), places, mode)
    return out


MODES = st.sampled_from(["ROUND_HALF_UP", "ROUND_HALF_EVEN"])


@st.composite
def rules_and_prices(draw):
    n = draw(st.integers(3, 20))
    prices = {f"b{i}": draw(st.integers(50 * WAN, 150 * WAN)) for i in range(n)}
    if draw(st.booleans()):  # an exact tie: equal prices, at an extreme or not
        prices["b0"] = prices["b1"]
    kind = draw(st.sampled_from(["lowest", "mean", "composite"]))
    if kind == "lowest":
        return {"benchmark": {"kind": "lowest"}, "score": {"kind": "ratio"}}, prices
    trim = draw(st.sampled_from([[], [{"from": 7, "high": 1, "low": 1}],
                                 [{"from": 5, "high": 1, "low": 0}, {"from": 7, "high": 1, "low": 1}],
                                 [{"from": 3, "high": 1, "low": 1}, {"from": 10, "high": 2, "low": 2}]]))
    bench = {"kind": kind, "trim": trim, "k": {"min": "-5", "max": "5"}}
    raw = {"benchmark": bench}
    if kind == "composite":
        a = draw(st.sampled_from(["0.2", "0.3", "0.5"]))
        bench.update(ceiling_weight=a, mean_weight=str(1 - D(a)), ceiling_discount=draw(st.sampled_from(["0", "3", "8"])))
        raw["ceiling_fen"] = 160 * WAN
    raw["score"] = {"kind": "deviation", "deduction": draw(st.sampled_from(["linear", "stepped", "ignored"])),
                    "above": draw(st.sampled_from(["1", "2", "0.8", "1.2"])),
                    "below": draw(st.sampled_from(["0.5", "1", "0.3"])),
                    "step": draw(st.sampled_from(["1", "0.5"])), "floor": draw(st.sampled_from(["0", "10"])),
                    "deviation_rounding": draw(st.sampled_from([None, {"mode": "ROUND_HALF_UP", "decimals": 2}]))}
    return raw, prices


@given(rules_and_prices(), st.integers(-500, 500), st.integers(0, 4), MODES)
@settings(max_examples=400, deadline=None)
def test_every_rule_matches_the_plain_fraction_reference(case, k_hundredths, places, mode):
    raw, prices = case
    k = F(k_hundredths, 100)
    result = score_with_rule(parse_price_rule(raw), prices, full_marks=30, rounding=Rounding(mode, places),
                             k=ratio_text(k))
    assert result.rounded == reference(raw, prices, 30, k, places, mode)


@given(st.integers(1, 10 ** 6), st.sampled_from([1, 3, 5, 15, 25, 75, 125, 375]), MODES)
@settings(max_examples=300, deadline=None)
def test_constructed_exact_half_way_ratio_scores_round_as_declared(low, q, mode):
    """Constructed ties: benchmark ``low``, price 16 q × low, so the score is 30 / (16 q) and 100 × that
    is 375 / (2 q), an odd number of halves for each q listed: exactly half a cent every time."""
    p = 16 * q * low
    exact = F(30, 16 * q)
    assert (exact * 200).denominator == 1 and (exact * 100).denominator != 1
    result = f87_scores({"x": p, "low": low}, full_marks=30, rounding=Rounding(mode, 2))
    assert result.exact["x"] == exact
    lower = (exact * 100).numerator // (exact * 100).denominator
    upper = lower + 1
    expected = upper if mode == "ROUND_HALF_UP" or upper % 2 == 0 else lower
    assert result.rounded["x"] == D(expected).scaleb(-2)


def test_beyond_a_bounded_last_band_its_rate_continues():
    rule_ = rule({"kind": "mean"}, {"kind": "deviation", "deduction": "interpolated",
                                   "above_bands": [{"upto": "2", "rate": "0.5"}, {"upto": "3", "rate": "1"}],
                                   "below_bands": [{"rate": "1"}]})
    assert deduction_for(rule_, F(5)) == F(1, 2) * 2 + 1 * 1 + 1 * 2  # 1 + 1 + 2 (the last rate beyond 3 %)
    assert deduction_for(rule_, F(5, 2)) == F(3, 2)
