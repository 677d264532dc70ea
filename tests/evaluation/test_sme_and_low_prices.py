"""Small and micro enterprises' price deduction (evaluation/rules/sme.py) and abnormally low prices
(evaluation/rules/abnormal.py)."""

from decimal import Decimal as D
from fractions import Fraction as F

import pytest

from common.errors import PlatformError
from evaluation.rules import abnormal, sme
from evaluation.rules.numbers import Rounding
from evaluation.rules.price import f87_scores

WAN = 1_000_000
SHA = "ab" * 32


def decl(kind="small_micro", **more):
    return sme.parse_declaration({"kind": kind, "statement_sha256": SHA, **more})


@pytest.mark.parametrize("project, kind, low, high", [
    ("goods_services", "small_micro", "10", "20"),  # 财库〔2022〕19号 Art. 2 (was 6–10 % in 46号 Art. 9)
    ("goods_services", "consortium", "4", "6"),  # 财库〔2022〕19号 Art. 2 (was 2–3 %)
    ("works", "small_micro", "3", "5"),  # 财库〔2020〕46号 Art. 9, unchanged by 19号
    ("works", "consortium", "1", "2"),  # 财库〔2020〕46号 Art. 9
])
def test_rates_are_accepted_exactly_within_the_legal_ranges(project, kind, low, high):
    """The ranges of 财库〔2020〕46号 Art. 9 as raised for goods and services by 财库〔2022〕19号 Art. 2."""
    base = {"project": project, "small_micro": "3" if project == "works" else "10"}
    for rate in (low, high):
        assert sme.parse_sme_rule({**base, kind: rate}).rates[kind] == F(rate)
    for rate in (str(D(low) - D("0.01")), str(D(high) + D("0.01"))):
        with pytest.raises(PlatformError) as caught:
            sme.parse_sme_rule({**base, kind: rate})
        assert caught.value.details["low"] == low and caught.value.details["high"] == high


def test_the_old_46_rate_of_6_percent_for_goods_is_refused_since_19():
    """财库〔2022〕19号 raised 6–10 % to 10–20 %: a tender stating 6 % for goods is out of range."""
    with pytest.raises(PlatformError):
        sme.parse_sme_rule({"project": "goods_services", "small_micro": "6"})


def test_the_deduction_changes_the_evaluated_price_only_and_moves_the_benchmark():
    """46号 Art. 9: 用扣除后的价格参加评审. Goods at 10 %: a small enterprise's 105 万元 is evaluated as
    94.5 万元, below the large enterprise's 100 万元, so it becomes the F87 benchmark (full marks) and
    100 万元 scores 94.5 / 100 × 30 = 28.35. The bid (and contract) price stays 105 万元."""
    rule = sme.parse_sme_rule({"project": "goods_services", "small_micro": "10", "consortium": "4"})
    prices = {"small": 105 * WAN, "large": 100 * WAN}
    result = sme.apply(rule, prices, {"small": decl(), "large": decl("none")})
    assert result.evaluated == {"small": F(945 * WAN, 10), "large": 100 * WAN}
    assert prices == {"small": 105 * WAN, "large": 100 * WAN}
    assert result.record["small"]["price_fen"] == 105 * WAN and result.record["small"]["basis"] == "small_micro"
    scores = f87_scores(result.evaluated, full_marks=30)
    assert scores.rounded == {"small": D("30.00"), "large": D("28.35")}


@pytest.mark.parametrize("declaration, rate, basis", [
    ({"kind": "consortium", "share_percent": "30"}, F(4), "consortium"),  # 30%以上 includes 30
    ({"kind": "consortium", "share_percent": "29.99"}, F(0), "share_below_30"),
    ({"kind": "small_micro", "related": True}, F(0), "related_parties"),
    ({"kind": "none"}, F(0), "not_sme"),
])
def test_consortium_share_and_related_parties(declaration, rate, basis):
    rule = sme.parse_sme_rule({"project": "goods_services", "small_micro": "10", "consortium": "4"})
    d = sme.parse_declaration({"statement_sha256": SHA, **declaration} if declaration["kind"] != "none" else declaration)
    assert sme.rate_for(rule, d) == (rate, basis)
    assert sme.rate_for(rule, None) == (0, "no_declaration")  # Art. 11: no 声明函, no benefit


def test_a_declaration_names_its_statement_by_hash():
    for bad in ({"kind": "small_micro"}, {"kind": "small_micro", "statement_sha256": "x"},
                {"kind": "consortium", "statement_sha256": SHA}, {"kind": "big"}):
        with pytest.raises(PlatformError):
            sme.parse_declaration(bad)


def test_works_under_the_bidding_law_may_add_to_the_price_score_instead():
    """46号 Art. 9: 工程 by comprehensive scoring without a lowest-price score: + 3–5 % of the price score."""
    rule = sme.parse_sme_rule({"project": "works", "small_micro": "5", "mode": "score_addition"})
    result = sme.apply(rule, {"a": 100 * WAN}, {"a": decl()})
    assert result.evaluated == {"a": 100 * WAN} and result.score_factor == {"a": F(21, 20)}
    with pytest.raises(PlatformError):
        sme.parse_sme_rule({"project": "goods_services", "small_micro": "10", "mode": "score_addition"})


# --- abnormally low prices (财政部令第87号 Art. 60) ---------------------------------------------------

def test_a_price_below_the_threshold_of_the_others_mean_is_flagged():
    """87号令 Art. 60 compares with the other compliant bids: 70 vs the mean of 100, 110, 90 (= 100):
    70 < 80 % × 100 → flagged; 80 exactly is not below 80 % and is not."""
    rule = abnormal.parse_low_price_rule({"basis": "mean_of_others", "percent": "80"})
    flags = abnormal.flag_low_prices(rule, {"a": 100, "b": 110, "c": 90, "d": 70})
    assert [f.bidder for f in flags] == ["d"]
    assert flags[0].basis_value == 100 and flags[0].threshold == 80
    assert abnormal.flag_low_prices(rule, {"a": 100, "b": 110, "c": 90, "d": 80}) == []


def test_other_bases_use_the_benchmark_or_the_ceiling():
    rule = abnormal.parse_low_price_rule({"basis": "ceiling", "percent": "85"})
    assert [f.bidder for f in abnormal.flag_low_prices(rule, {"a": 84, "b": 90}, ceiling_fen=100)] == ["a"]
    with pytest.raises(PlatformError):
        abnormal.flag_low_prices(rule, {"a": 84})
    bench = abnormal.parse_low_price_rule({"basis": "benchmark", "percent": "90"})
    assert abnormal.flag_low_prices(bench, {"a": 89, "b": 95}, benchmark=F(100))[0].bidder == "a"


def test_the_committee_decides_with_reasons_after_the_answer_or_the_deadline():
    rule = abnormal.parse_low_price_rule({"basis": "mean", "percent": "80", "answer_minutes": 30})
    with pytest.raises(PlatformError):  # waiting for the written explanation
        abnormal.check_decision(rule, decision="rejected", reasons="x", answered=False, deadline_passed=False)
    with pytest.raises(PlatformError):  # no reasons
        abnormal.check_decision(rule, decision="accepted", reasons=" ", answered=True, deadline_passed=False)
    assert abnormal.check_decision(rule, decision="accepted", reasons="成本清单可信", answered=True,
                                   deadline_passed=False) == "accepted"
    with pytest.raises(PlatformError):  # no answer in time: the tender treats the bid as invalid
        abnormal.check_decision(rule, decision="accepted", reasons="x", answered=False, deadline_passed=True)
    lenient = abnormal.parse_low_price_rule({"basis": "mean", "percent": "80", "no_answer": "committee"})
    assert abnormal.check_decision(lenient, decision="accepted", reasons="x", answered=False,
                                   deadline_passed=True) == "accepted"


@pytest.mark.parametrize("raw", [{"percent": "100"}, {"percent": "0"}, {"percent": 0.8}, {"basis": "median", "percent": "80"},
                                 {"percent": "80", "answer_minutes": 1}, {"percent": "80", "no_answer": "accept"}])
def test_malformed_low_price_rules_are_refused(raw):
    with pytest.raises(PlatformError):
        abnormal.parse_low_price_rule(raw)


def test_rounding_stays_exact_for_sme_prices_with_fractions_of_a_fen():
    """A 10 % deduction of 1 fen leaves 0.9 fen: the evaluated price is 9/10, never rounded."""
    rule = sme.parse_sme_rule({"project": "goods_services", "small_micro": "10"})
    result = sme.apply(rule, {"a": 1, "b": 3}, {"a": decl()})
    assert result.evaluated["a"] == F(9, 10)
    assert f87_scores(result.evaluated, full_marks=30, rounding=Rounding("ROUND_HALF_UP", 2)).exact["b"] == 9
