"""The tender's evaluation settings (evaluation/rules/settings.validate_evaluation_settings), as the rules
read them."""

from decimal import Decimal as D

import pytest

from common.errors import PlatformError
from evaluation.rules.aggregate import AggregateSettings
from evaluation.rules.numbers import Rounding
from evaluation.rules.settings import DEFAULT_EVALUATION_SETTINGS, validate_evaluation_settings


def test_the_defaults_are_valid_and_read_as_half_up_to_two_places_rounded_at_the_end():
    merged = validate_evaluation_settings({})
    assert merged == DEFAULT_EVALUATION_SETTINGS
    assert Rounding.from_settings(merged) == Rounding("ROUND_HALF_UP", 2)
    agg = AggregateSettings.from_settings(merged)
    assert agg.round_at == "final" and agg.method == "mean" and agg.trim_experts_from == 5
    assert agg.weights == {"price": D(30), "technical": D(60), "business": D(10)}


@pytest.mark.parametrize("bad", [
    {"rounding": "ROUND_SOMETIMES"},
    {"round_at": "each_item"},
    {"weights": {"price": "30", "technical": "60"}},  # adds up to 90
    {"weights": {"price": 30.0, "technical": "60", "business": "10"}},  # a float
    {"weights": {"colour": "100"}},
    {"trim_experts_from": 2},
    {"candidates": 4},  # Reg 53: at most 3
    {"k_min": "1", "k_max": "0"},
    {"rate_below": "-0.5"},
    {"outlier_percent": None, "outlier_points": None},
    {"tie_rule": "coin"},
    {"unknown_key": 1},
])
def test_bad_settings_fail_loudly(bad):
    with pytest.raises(PlatformError):
        validate_evaluation_settings(bad)


def test_a_construction_tender_sets_its_rates_and_range():
    merged = validate_evaluation_settings({"price_formula": "construction_mean", "rate_above": "2",
                                           "rate_below": "1", "k_min": "-5", "k_max": "-1",
                                           "outlier_percent": None, "outlier_points": "10"})
    assert merged["rate_above"] == "2" and merged["outlier_points"] == "10"


PRICE_RULE = {"benchmark": {"kind": "mean", "trim": [{"from": 7, "high": 1, "low": 1}], "k": {"min": "-3", "max": "0"}},
              "score": {"kind": "deviation", "deduction": "stepped", "above": "2", "below": "1"},
              "ceiling_fen": 500_000_000}


def test_a_declared_price_rule_sme_rates_low_price_threshold_and_bill_layout_are_accepted():
    from evaluation.testing_bills import LAYOUT
    merged = validate_evaluation_settings({
        "price_rule": PRICE_RULE, "sme": {"project": "works", "small_micro": "4", "consortium": "1.5"},
        "abnormally_low": {"basis": "mean_of_others", "percent": "85"}, "bill_layout": LAYOUT})
    assert merged["price_rule"] == PRICE_RULE


@pytest.mark.parametrize("bad", [
    {"price_rule": {**PRICE_RULE, "score": {"kind": "deviation", "deduction": "sometimes"}}},
    {"price_rule": {**PRICE_RULE, "ceiling_fen": 1.5}},
    {"sme": {"project": "goods_services", "small_micro": "8"}},  # 6–10 % was 46号; 19号 made it 10–20 %
    {"abnormally_low": {"percent": "120"}},
    {"bill_layout": {"columns": {}}},
])
def test_malformed_price_settings_are_refused(bad):
    with pytest.raises(PlatformError):
        validate_evaluation_settings(bad)
