"""Exact rationals, and rounding exactly once.

Every price score, deviation, benchmark and aggregate is a ``fractions.Fraction``: a quotient of two
integers, so 2700/95 stays 540/19 and 56.875 stays 455/8 until the one rounding the tender declares.
Rounding a ``Fraction`` to ``decimals`` places is integer arithmetic (``round_exact``); there is no
intermediate precision and no context, so a half-way case is recognised as half-way whatever the
chain of operations that produced it (a 34-digit ``Decimal`` chain can leave 56.87499…97 where the
exact value is 56.875 and then round the wrong way).

Text forms for the record: ``ratio_text`` ("455/8", "-3", canonical, parsed back by
``to_fraction``) is what the summary and the report store as the exact value; ``approx_text`` is a
decimal shown to people next to it, never used for a decision.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction
from typing import Any

from common.errors import BadRequest

ROUNDING_MODES = frozenset({
    "ROUND_HALF_UP", "ROUND_HALF_EVEN", "ROUND_HALF_DOWN", "ROUND_DOWN", "ROUND_UP", "ROUND_FLOOR",
    "ROUND_CEILING",
})

_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_RATIO = re.compile(r"^[+-]?\d+/\d+$")


def to_fraction(value: Any, *, what: str = "value") -> Fraction:
    """An exact Fraction from an int, a decimal string ("-2.5"), a ratio string ("455/8"), a
    Decimal or a Fraction. Floats and bools are refused: ``Fraction(0.1)`` is not 1/10."""
    if isinstance(value, (bool, float)):
        raise BadRequest(f"{what} must be a decimal string or an integer, never a float",
                         details={"what": what, "value": repr(value)})
    if isinstance(value, (int, Fraction)):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise BadRequest(f"{what} must be finite", details={"what": what})
        return Fraction(value)
    if isinstance(value, str):
        text = value.strip()
        if len(text) <= 200 and (_DECIMAL.match(text) or _RATIO.match(text)):
            try:
                return Fraction(text)
            except ZeroDivisionError:
                pass
        raise BadRequest(f"{what} is not a number", details={"what": what, "value": value[:200]})
    raise BadRequest(f"{what} must be a decimal string or an integer",
                     details={"what": what, "type": type(value).__name__})


def check_mode(mode: str) -> str:
    if mode not in ROUNDING_MODES:
        raise BadRequest("unknown rounding mode", details={"allowed": sorted(ROUNDING_MODES)})
    return mode


def round_exact(value: Fraction | int | Decimal, decimals: int, mode: str) -> Decimal:
    """``value`` rounded to ``decimals`` places by ``mode`` (the names of ``decimal``'s modes, with
    the same meaning: HALF_UP rounds a half away from zero, DOWN toward zero, FLOOR toward −∞).
    The result is a Decimal with exactly ``decimals`` places."""
    check_mode(mode)
    if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 12:
        raise BadRequest("decimals is an integer from 0 to 12")
    x = Fraction(value) * 10 ** decimals
    negative = x < 0
    q, r = divmod(abs(x.numerator), x.denominator)  # |x| = q + r / den
    den = x.denominator
    if mode in ("ROUND_FLOOR", "ROUND_CEILING"):
        away = (mode == "ROUND_FLOOR") == negative  # toward −∞ moves a negative value away from 0
        up = r > 0 and away
    elif mode == "ROUND_DOWN":
        up = False
    elif mode == "ROUND_UP":
        up = r > 0
    elif mode == "ROUND_HALF_UP":
        up = 2 * r >= den
    elif mode == "ROUND_HALF_DOWN":
        up = 2 * r > den
    else:  # ROUND_HALF_EVEN
        up = 2 * r > den or (2 * r == den and q % 2 == 1)
    digits = q + 1 if up else q
    sign = "-" if negative and digits else ""
    return Decimal(f"{sign}{digits}e-{decimals}") if decimals else Decimal(f"{sign}{digits}")


def ratio_text(value: Fraction | int) -> str:
    """The canonical exact text: "p/q" in lowest terms, or "p" for an integer."""
    x = Fraction(value)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


def approx_text(value: Fraction | int, places: int = 6) -> str:
    """A decimal for people (half-even to ``places``, trailing zeros kept); exact when the value
    has at most ``places`` decimals. Never an input to a decision."""
    return str(round_exact(Fraction(value), places, "ROUND_HALF_EVEN"))


def is_terminating(value: Fraction, places: int) -> bool:
    """Whether ``value`` has at most ``places`` decimal places."""
    return (Fraction(value) * 10 ** places).denominator == 1
