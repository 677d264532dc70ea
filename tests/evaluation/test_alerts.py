"""Alerts and returns for correction (evaluation/rules/alerts.py; F87 62, 64)."""

from datetime import datetime, timezone
from decimal import Decimal as D

import pytest

from common.errors import ErrorCode, PlatformError
from evaluation.rules import alerts
from evaluation.rules.aggregate import Item

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)
ITEMS = [Item.parse(i) for i in (
    {"id": "T1", "category": "technical", "kind": "subjective", "max": "60", "step": "0.5"},
    {"id": "T2", "category": "technical", "kind": "objective", "max": "30", "step": "1"},
    {"id": "B1", "category": "business", "kind": "subjective", "max": "10", "step": "0.5"},
)]  # total maximum 100


def test_values_out_of_range_or_off_the_step_raise_alerts_with_stable_codes():
    sheets = {"e1": {"A": {"T1": "60.5", "T2": "29", "B1": "7.25"}},
              "e2": {"A": {"T1": "-1", "T2": "30", "B1": "10"}}}
    found = {(a.code, a.expert, a.item) for a in alerts.value_alerts(ITEMS, sheets)}
    assert found == {("out_of_range", "e1", "T1"), ("not_a_step", "e1", "B1"), ("out_of_range", "e2", "T1")}


def test_any_difference_on_an_objective_item_is_inconsistent():
    sheets = {"e1": {"A": {"T2": "30"}, "B": {"T2": "20"}},
              "e2": {"A": {"T2": "29"}, "B": {"T2": "20"}},
              "e3": {"A": {"T2": "30"}, "B": {"T2": "20.0"}}}  # 20 and 20.0 are the same value
    found = alerts.objective_alerts(ITEMS, sheets)
    assert [(a.code, a.bidder, a.item) for a in found] == [("objective_inconsistent", "A", "T2")]
    assert found[0].details == {"e1": "30", "e2": "29", "e3": "30"}


def test_subjective_differences_are_not_inconsistencies():
    sheets = {"e1": {"A": {"T1": "50"}}, "e2": {"A": {"T1": "30"}}}
    assert alerts.objective_alerts(ITEMS, sheets) == []


def test_an_expert_far_from_the_others_mean_is_an_outlier():
    totals = {"A": {"e1": D(80), "e2": D(78), "e3": D(82), "e4": D(55)}}
    # threshold 20 % of 100 = 20 points
    # e4: others' mean (80 + 78 + 82) / 3 = 80; |55 − 80| = 25 > 20 → outlier
    # e1: others' mean (78 + 82 + 55) / 3 = 71.67; |80 − 71.67| = 8.33 → fine
    found = alerts.outlier_alerts(ITEMS, totals, percent=20)
    assert [(a.code, a.expert) for a in found] == [("score_outlier", "e4")]
    assert found[0].details["deviation"] == "25"


def test_the_outlier_threshold_is_strict_and_may_be_in_points():
    totals = {"A": {"e1": D(80), "e2": D(80), "e3": D(60)}}
    # e3: others' mean 80, deviation exactly 20: not beyond 20 % of 100
    assert alerts.outlier_alerts(ITEMS, totals, percent=20) == []
    # in points: 15 → e3 (20 > 15) trips; e1: others (80 + 60)/2 = 70, deviation 10 → fine
    assert [a.expert for a in alerts.outlier_alerts(ITEMS, totals, points=15)] == ["e3"]
    # both given: the smaller limit applies
    assert [a.expert for a in alerts.outlier_alerts(ITEMS, totals, percent=50, points=15)] == ["e3"]
    with pytest.raises(PlatformError):
        alerts.outlier_alerts(ITEMS, totals)


def test_a_submitted_total_that_is_not_the_sum_of_the_items_is_a_mismatch():
    sheets = {"e1": {"A": {"T1": "50.5", "T2": "28", "B1": "8"}, "B": {"T1": "40", "T2": "20", "B1": "5"}}}
    # A: 50.5 + 28 + 8 = 86.5 ≠ 86; B: 40 + 20 + 5 = 65 = 65
    found = alerts.arithmetic_alerts(sheets, {"e1": {"A": "86", "B": "65.0"}})
    assert [(a.code, a.bidder) for a in found] == [("arithmetic_mismatch", "A")]
    assert found[0].details == {"submitted": "86", "sum_of_items": "86.5"}


@pytest.mark.parametrize("reason", sorted(alerts.RETURN_REASONS - {"objective_inconsistent"}))
def test_a_score_may_be_returned_for_the_allowed_reasons(reason):
    alerts.check_return(ITEMS[0], reason)  # subjective item, allowed reason
    alerts.check_return(None, reason)


@pytest.mark.parametrize("reason", ["too_low", "please_reconsider", "consensus", ""])
def test_a_subjective_score_is_never_negotiated(reason):
    with pytest.raises(PlatformError) as info:
        alerts.check_return(ITEMS[0], reason)
    assert info.value.code == ErrorCode.FORBIDDEN


def test_objective_inconsistent_applies_only_to_objective_items():
    alerts.check_return(ITEMS[1], "objective_inconsistent")
    for item in (ITEMS[0], None):
        with pytest.raises(PlatformError):
            alerts.check_return(item, "objective_inconsistent")


def test_a_correction_is_recorded_and_leaves_the_input_unchanged():
    sheets = {"e1": {"A": {"T1": "50", "T2": "29", "B1": "8"}}}
    new, record = alerts.correct(ITEMS, sheets, expert="e1", bidder="A", item_id="T2", new_value="30",
                                 reason="objective_inconsistent", requested_by="chair-1", now=NOW)
    assert new["e1"]["A"]["T2"] == D(30) and sheets["e1"]["A"]["T2"] == "29"
    assert record.as_dict() == {"expert": "e1", "bidder": "A", "item": "T2",
                                "reason": "objective_inconsistent",
                                "old": "29", "new": "30", "at": NOW.isoformat(), "requested_by": "chair-1"}
    with pytest.raises(PlatformError):  # the corrected value must itself be valid
        alerts.correct(ITEMS, sheets, expert="e1", bidder="A", item_id="T2", new_value="31",
                       reason="out_of_range", requested_by="chair-1", now=NOW)
    with pytest.raises(PlatformError):
        alerts.correct(ITEMS, sheets, expert="e1", bidder="A", item_id="T1", new_value="55",
                       reason="negotiated", requested_by="chair-1", now=NOW)
