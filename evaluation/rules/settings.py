"""A tender's evaluation settings (评标办法): the method, the price formula, the weights, rounding,
the aggregate, the tie rule, the scoring table. Pure: no ORM.

The tender stores them on its lot (``bidding.models.Lot.evaluation_settings``); the evaluation app
owns what they mean, so it validates them here and registers ``validate_evaluation_settings`` and
``defaults`` with bidding (``bidding.evaluation_settings``, from ``evaluation.apps``). The rules
behind each key are in docs/evaluation.md ("Evaluation rules").
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from common.errors import BadRequest

from . import abnormal, bills, price_rule, sme
from .aggregate import AGGREGATES, ROUND_AT, parse_items
from .numbers import ROUNDING_MODES

EVALUATION_METHODS = frozenset({"comprehensive", "lowest_evaluated_price"})
PRICE_FORMULAS = frozenset({"f87_lowest", "construction_mean"})
TIE_RULES = frozenset({"draw", "technical", "business"})
WEIGHT_KEYS = frozenset({"price", "technical", "business"})

# Present only when the tender defines them: the scoring table, the compliance criteria, the step
# of the drawn coefficient (docs/evaluation.md, docs/opening.md).
OPTIONAL_EVALUATION_SETTINGS = frozenset({"items", "criteria", "k_step", "price_rule", "sme", "abnormally_low",
                                          "bill_layout"})

# Flat values only: a lot's default is a shallow copy (``defaults``). The rules behind each key are in
# docs/evaluation.md ("Evaluation rules") and evaluation/rules/.
DEFAULT_EVALUATION_SETTINGS = {
    "method": "comprehensive",
    "price_formula": "f87_lowest",
    "weights": {"price": "30", "technical": "60", "business": "10"},
    "aggregate": "mean",
    "rounding": "ROUND_HALF_UP",
    "decimals": 2,
    # Where rounding happens: "final" (only the per-bidder total) or "components".
    "round_at": "final",
    # trimmed_mean: drop one highest and one lowest expert from this many experts.
    "trim_experts_from": 5,
    # construction_mean: trim one highest and one lowest price from this many valid bids; points
    # per 1 % above / below the benchmark; the range the coefficient K (percent) is drawn from.
    "trim_prices_from": 5,
    "rate_above": "1",
    "rate_below": "0.5",
    "k_min": "-3",
    "k_max": "0",
    # score_outlier: deviation from the other experts' mean, in percent of the total maximum
    # and/or in points (either may be None, not both).
    "outlier_percent": "20",
    "outlier_points": None,
    # Ties after score and price: "draw", or a higher category score first and then the draw.
    "tie_rule": "draw",
    "candidates": 3,
}


def _decimal_setting(merged: dict[str, Any], key: str, *, allow_none: bool = False,
                     low: Decimal | None = None, high: Decimal | None = None) -> None:
    value = merged[key]
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise BadRequest(f"{key} is a decimal string", details={"key": key})
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise BadRequest(f"{key} is a decimal string", details={"key": key}) from None
    if not number.is_finite() or (low is not None and number < low) or (high is not None and number > high):
        raise BadRequest(f"{key} is out of range", details={"key": key, "low": str(low), "high": str(high)})


def _int_setting(merged: dict[str, Any], key: str, low: int, high: int) -> None:
    value = merged[key]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BadRequest(f"{key} is an integer from {low} to {high}", details={"key": key})


def validate_evaluation_settings(settings: Any) -> dict[str, Any]:
    """The tender's settings merged over the defaults, or ``BadRequest`` naming what is wrong."""
    if not isinstance(settings, dict):
        raise BadRequest("evaluation settings are an object")
    unknown = set(settings) - set(DEFAULT_EVALUATION_SETTINGS) - OPTIONAL_EVALUATION_SETTINGS
    if unknown:
        raise BadRequest("unknown evaluation settings", details={"keys": sorted(unknown)})
    merged = {**DEFAULT_EVALUATION_SETTINGS, **settings}
    if merged["method"] not in EVALUATION_METHODS:
        raise BadRequest("unknown evaluation method", details={"allowed": sorted(EVALUATION_METHODS)})
    if merged["price_formula"] not in PRICE_FORMULAS:
        raise BadRequest("unknown price formula", details={"allowed": sorted(PRICE_FORMULAS)})
    if merged["aggregate"] not in AGGREGATES:
        raise BadRequest("unknown aggregate", details={"allowed": sorted(AGGREGATES)})
    if not isinstance(merged["decimals"], int) or not 0 <= merged["decimals"] <= 4:
        raise BadRequest("decimals is an integer from 0 to 4")
    if merged["rounding"] not in ROUNDING_MODES:
        raise BadRequest("unknown rounding mode", details={"allowed": sorted(ROUNDING_MODES)})
    if merged["round_at"] not in ROUND_AT:
        raise BadRequest("round_at is final or components", details={"allowed": sorted(ROUND_AT)})
    if merged["tie_rule"] not in TIE_RULES:
        raise BadRequest("unknown tie rule", details={"allowed": sorted(TIE_RULES)})
    weights = merged["weights"]
    if not isinstance(weights, dict) or not weights or set(weights) - WEIGHT_KEYS:
        raise BadRequest("weights map price, technical and business to points",
                         details={"allowed": sorted(WEIGHT_KEYS)})
    for key in weights:
        _decimal_setting(weights, key, low=Decimal(0), high=Decimal(100))
    if merged["method"] == "comprehensive" and sum(Decimal(str(v)) for v in weights.values()) != 100:
        raise BadRequest("the weights of comprehensive scoring add up to 100")
    _int_setting(merged, "trim_experts_from", 3, 99)
    _int_setting(merged, "trim_prices_from", 3, 999)
    _int_setting(merged, "candidates", 1, 3)  # Reg 53: at most 3 candidates
    _decimal_setting(merged, "rate_above", low=Decimal(0), high=Decimal(100))
    _decimal_setting(merged, "rate_below", low=Decimal(0), high=Decimal(100))
    _decimal_setting(merged, "k_min", low=Decimal(-99), high=Decimal(99))
    _decimal_setting(merged, "k_max", low=Decimal(-99), high=Decimal(99))
    if Decimal(str(merged["k_min"])) > Decimal(str(merged["k_max"])):
        raise BadRequest("k_min is not above k_max")
    _decimal_setting(merged, "outlier_percent", allow_none=True, low=Decimal(0), high=Decimal(100))
    _decimal_setting(merged, "outlier_points", allow_none=True, low=Decimal(0))
    if merged["outlier_percent"] is None and merged["outlier_points"] is None:
        raise BadRequest("an outlier threshold needs outlier_percent or outlier_points")
    if "items" in merged:  # the scoring table (评分细则): aggregate validates it
        if not isinstance(merged["items"], list):
            raise BadRequest("items is a list of scoring items")
        parse_items(merged["items"])
    if "criteria" in merged and (not isinstance(merged["criteria"], list) or not all(
            isinstance(c, str) and c.strip() for c in merged["criteria"])):
        raise BadRequest("criteria is a list of the compliance review's criteria (text)")
    if "k_step" in merged:
        _decimal_setting(merged, "k_step", low=Decimal("0.0001"), high=Decimal(10))
    _validate_price_rules(merged)
    return merged


def _validate_price_rules(merged: dict[str, Any]) -> None:
    """The declared price rule, SME deductions, abnormally-low threshold and bill layout
    (docs/evaluation.md, "Price rules"); each parser refuses what it cannot read."""
    price_rule.rule_from_settings(merged)
    if merged.get("sme") is not None:
        sme.parse_sme_rule(merged["sme"])
    if merged.get("abnormally_low") is not None:
        abnormal.parse_low_price_rule(merged["abnormally_low"])
    if merged.get("bill_layout") is not None:
        bills.parse_layout(merged["bill_layout"])


def defaults() -> dict[str, Any]:
    """A new lot's evaluation settings."""
    return dict(DEFAULT_EVALUATION_SETTINGS)
