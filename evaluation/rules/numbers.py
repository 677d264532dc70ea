"""Decimal conversion and the declared rounding rule.

Scores are computed with exact rationals (``exact.py``); ``Rounding.apply`` rounds a Fraction (or
the rational a Decimal denotes) exactly once. ``CALC`` remains for the alerts' comparisons.

Every score is a ``Decimal``; money is integer fen. Floats are refused wherever a number enters,
because ``Decimal(0.1)`` is not 0.1 and binary rounding would make two venues disagree.

Intermediate results are computed in ``CALC`` (34 significant digits, IEEE decimal128 precision)
so that no result depends on the thread's global decimal context. Rounding to the tender's
``decimals`` with the tender's ``rounding`` mode happens only where a rule module says so.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any, Mapping

from common.errors import BadRequest

from .exact import ROUNDING_MODES, round_exact

CALC = decimal.Context(prec=34, rounding=decimal.ROUND_HALF_EVEN,
                       traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow])


ZERO = Decimal(0)
HUNDRED = Decimal(100)


def to_decimal(value: Any, *, what: str = "value") -> Decimal:
    """An exact Decimal from an int, a str or a Decimal. Floats and bools are refused."""
    if isinstance(value, bool) or isinstance(value, float):
        raise BadRequest(f"{what} must be a decimal string or an integer, never a float",
                         details={"what": what, "value": repr(value)})
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except decimal.InvalidOperation:
            raise BadRequest(f"{what} is not a number", details={"what": what, "value": value}) from None
    else:
        raise BadRequest(f"{what} must be a decimal string or an integer",
                         details={"what": what, "type": type(value).__name__})
    if not result.is_finite():
        raise BadRequest(f"{what} must be finite", details={"what": what, "value": str(value)})
    return result


def to_fen(value: Any, *, what: str = "price") -> int:
    """A positive amount of money in integer fen (分)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest(f"{what} is an integer number of fen",
                         details={"what": what, "value": repr(value)})
    if value <= 0:
        raise BadRequest(f"{what} must be positive", details={"what": what, "value": value})
    return value


@dataclass(frozen=True)
class Rounding:
    """The declared rounding rule: ``mode`` (a ``decimal`` rounding name) to ``decimals`` places."""

    mode: str = "ROUND_HALF_UP"
    decimals: int = 2

    def __post_init__(self) -> None:
        if self.mode not in ROUNDING_MODES:
            raise BadRequest("unknown rounding mode", details={"allowed": sorted(ROUNDING_MODES)})
        if isinstance(self.decimals, bool) or not isinstance(self.decimals, int) \
                or not 0 <= self.decimals <= 4:
            raise BadRequest("decimals is an integer from 0 to 4")

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "Rounding":
        return cls(settings.get("rounding", "ROUND_HALF_UP"), settings.get("decimals", 2))

    def apply(self, value: Decimal | Fraction | int) -> Decimal:
        """``value`` rounded by the rule, exactly (``exact.round_exact``): a Decimal is converted
        to the rational it denotes, so no precision is involved."""
        return round_exact(Fraction(value), self.decimals, self.mode)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "decimals": self.decimals}


def fen_to_yuan(fen: int) -> Decimal:
    """Fen to yuan, exactly (two decimal places)."""
    return Decimal(fen).scaleb(-2)
