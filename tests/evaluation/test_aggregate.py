"""Items, score validation and aggregation across experts (evaluation/rules/aggregate.py)."""

from decimal import Decimal as D
from fractions import Fraction

import pytest

from common.errors import PlatformError
from evaluation.rules.aggregate import AggregateSettings, Item, aggregate, kept_experts, normalise_sheets
from evaluation.rules.numbers import Rounding
from evaluation.rules.price import f87_scores

WAN = 1_000_000
WEIGHTS = {"technical": D(60), "business": D(10), "price": D(30)}
ITEMS = [
    {"id": "T1", "category": "technical", "kind": "subjective", "max": "40", "step": "0.5"},
    {"id": "T2", "category": "technical", "kind": "objective", "max": "20", "step": "1"},
    {"id": "B1", "category": "business", "kind": "subjective", "max": "10", "step": "0.5"},
]
# bidder A, five experts; totals: e1 61, e2 55, e3 65, e4 60, e5 61.5
SHEETS = {
    "e1": {"A": {"T1": "35", "T2": "18", "B1": "8"}},
    "e2": {"A": {"T1": "30", "T2": "18", "B1": "7"}},
    "e3": {"A": {"T1": "38", "T2": "18", "B1": "9"}},
    "e4": {"A": {"T1": "33.5", "T2": "18", "B1": "8.5"}},
    "e5": {"A": {"T1": "36", "T2": "18", "B1": "7.5"}},
}
EXPERTS = ["e1", "e2", "e3", "e4", "e5"]
# price: 90 / 95 × 30 = 28.42105263…
PRICE = f87_scores({"A": 95 * WAN, "X": 90 * WAN}, full_marks=30).exact


def run(method="mean", round_at="final", sheets=SHEETS, experts=EXPERTS, price=None, items=ITEMS,
        weights=WEIGHTS, rounding=Rounding()):
    price = {"A": PRICE["A"]} if price is None else price
    return aggregate([Item.parse(i) for i in items], sheets, experts=experts, price_scores=price,
                     settings=AggregateSettings(weights=weights, method=method, round_at=round_at,
                                                rounding=rounding))


def test_the_mean_of_the_experts_totals_plus_the_price_score():
    result = run()["A"]
    # (61 + 55 + 65 + 60 + 61.5) / 5 = 302.5 / 5 = 60.5; + 28.42105263… = 88.92105263… → 88.92
    assert result.per_expert == {"e1": D(61), "e2": D(55), "e3": D(65), "e4": D(60), "e5": D("61.5")}
    assert result.categories["technical"] + result.categories["business"] == D("60.5")
    assert result.total == D("88.92")
    assert result.dropped_experts == ()


def test_the_trimmed_mean_drops_one_highest_and_one_lowest_expert():
    result = run(method="trimmed_mean")["A"]
    # drop e3 (65) and e2 (55): (61 + 60 + 61.5) / 3 = 182.5 / 3 = 60.8333…
    # + 28.42105263… = 89.25438596… → 89.25
    assert result.dropped_experts == ("e3", "e2")
    assert result.kept_experts == ("e1", "e4", "e5")
    # technical (35+18 + 33.5+18 + 36+18) / 3 = 158.5 / 3 = 52.8333…; business (8 + 8.5 + 7.5) / 3 = 8
    assert result.categories["business"] == D(8)
    assert result.categories["technical"] == Fraction(317, 6)  # 158.5 / 3, exact
    assert result.total == D("89.25")


def test_the_trimmed_mean_keeps_everyone_below_the_threshold():
    four = {e: SHEETS[e] for e in EXPERTS[:4]}
    result = run(method="trimmed_mean", sheets=four, experts=EXPERTS[:4])["A"]
    # (61 + 55 + 65 + 60) / 4 = 241 / 4 = 60.25; + 28.42105… = 88.67105… → 88.67
    assert result.dropped_experts == () and result.total == D("88.67")


def test_trimming_ties_drop_exactly_one_expert_at_each_end_by_smallest_id():
    totals = {"e1": D(60), "e2": D(60), "e3": D(50), "e4": D(50), "e5": D(55)}
    kept, dropped = kept_experts(totals, method="trimmed_mean", trim_from=5)
    assert dropped == ("e1", "e3") and kept == ("e2", "e4", "e5")  # mean (60 + 50 + 55) / 3 = 55


ROUND_ITEMS = [
    {"id": "T1", "category": "technical", "kind": "subjective", "max": "60", "step": "0.5"},
    {"id": "B1", "category": "business", "kind": "objective", "max": "10", "step": "1"},
]
ROUND_SHEETS = {"e1": {"A": {"T1": "50", "B1": "8"}}, "e2": {"A": {"T1": "50", "B1": "8"}},
                "e3": {"A": {"T1": "50.5", "B1": "8"}}}
# price 150 / 160 × 30 = 28.125 exactly
ROUND_PRICE = {"A": f87_scores({"A": 160 * WAN, "Z": 150 * WAN}, full_marks=30).exact["A"]}


def test_round_at_final_rounds_only_the_total():
    result = run(sheets=ROUND_SHEETS, experts=["e1", "e2", "e3"], items=ROUND_ITEMS, price=ROUND_PRICE)["A"]
    # technical 150.5 / 3 = 50.1666…, business 8, price 28.125 → 86.291666… → 86.29
    assert result.total == D("86.29")
    assert result.price == D("28.125")


def test_round_at_components_rounds_each_component_then_adds():
    result = run(sheets=ROUND_SHEETS, experts=["e1", "e2", "e3"], items=ROUND_ITEMS, price=ROUND_PRICE,
                 round_at="components")["A"]
    # 50.1666… → 50.17; 8 → 8.00; 28.125 → 28.13 (HALF_UP); 50.17 + 8.00 + 28.13 = 86.30
    assert result.categories == {"technical": D("50.17"), "business": D("8.00")}
    assert result.price == D("28.13")
    assert result.total == D("86.30")


def test_weights_scale_a_category_whose_items_do_not_add_up_to_the_weight():
    items = [{"id": "T", "category": "technical", "kind": "subjective", "max": "50", "step": "0.5"},
             {"id": "B", "category": "business", "kind": "subjective", "max": "10", "step": "0.5"}]
    sheets = {"e1": {"A": {"T": "40", "B": "5"}}}
    # technical: 40 / 50 × 60 = 48; business: 5 / 10 × 10 = 5; price 0 weight → total 53
    weights = {"technical": D(60), "business": D(10), "price": D(0)}
    result = aggregate([Item.parse(i) for i in items], sheets, experts=["e1"], price_scores=None,
                       settings=AggregateSettings(weights=weights))["A"]
    assert result.categories == {"technical": D(48), "business": D(5)}
    assert result.total == D("53.00")


def test_item_definitions_are_validated():
    for bad in (
        {"id": "P", "category": "price", "kind": "objective", "max": "30", "step": "1"},
        {"id": "T", "category": "technical", "kind": "guess", "max": "30", "step": "1"},
        {"id": "T", "category": "technical", "kind": "subjective", "max": "10", "step": "3"},
        {"id": "T", "category": "technical", "kind": "subjective", "max": 10.0, "step": "1"},
        {"id": "T", "category": "technical", "kind": "subjective", "max": "0", "step": "1"},
    ):
        with pytest.raises(PlatformError):
            Item.parse(bad)


def test_scores_must_be_complete_in_range_and_on_the_step():
    items = [Item.parse(i) for i in ITEMS]
    sheets = {"e1": {"A": {"T1": "40.5", "T2": "18.5", "X": "1"}}, "e9": {}}
    with pytest.raises(PlatformError) as info:
        normalise_sheets(items, sheets, experts=["e1"], bidders=["A"])
    problems = {(p.get("item"), p["problem"]) for p in info.value.details["problems"]}
    assert problems == {("T1", "out_of_range"), ("T2", "not_a_step"), ("B1", "missing"),
                        ("X", "unknown_item"), (None, "unknown_expert")}
    with pytest.raises(PlatformError):
        normalise_sheets(items, {"e1": {"A": {"T1": 35.0, "T2": "18", "B1": "8"}}}, experts=["e1"],
                         bidders=["A"])  # a float


def test_a_bidder_without_a_price_score_is_refused():
    with pytest.raises(PlatformError):
        run(price={"B": D(30)})
