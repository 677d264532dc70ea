"""The price rule as data: what a tender document states about its price score, validated and
frozen, and shown as it is in the tender's settings, the report and the archive (``as_dict``).

A tender declares it in its evaluation settings as ``price_rule`` (docs/evaluation.md, "Price
rules"); without one, the older flat settings (``price_formula`` with ``trim_prices_from``,
``rate_above``, ``rate_below``, ``k_min``, ``k_max``) are read as the equivalent rule.

    {"benchmark": {"kind": "lowest" | "mean" | "composite",
                   "trim": [{"from": 5, "high": 1, "low": 0}, {"from": 7, "high": 1, "low": 1}],
                   "k": {"min": "-3", "max": "0"} | null,
                   "ceiling_weight": "0.3", "mean_weight": "0.7", "ceiling_discount": "5"},
     "score": {"kind": "ratio"}
            | {"kind": "deviation", "deduction": "linear" | "stepped" | "ignored" | "interpolated",
               "step": "1", "above": "2", "below": "1",
               "above_bands": [{"upto": "3", "rate": "0.5"}, {"rate": "1"}], "below_bands": [...],
               "floor": "0", "deviation_rounding": {"mode": "ROUND_HALF_UP", "decimals": 2} | null},
     "ceiling_fen": 123456789 | null}

Sources (the rule's wording in tender documents and the law each option follows):
- ``lowest`` + ``ratio``: 财政部令第87号 Art. 55 — 评标基准价 is the lowest price that meets the
  tender's requirements, score = 基准价 / 投标报价 × price weight; nothing is trimmed.
- ``mean``: the trimmed mean of the valid prices, the trimming table by count being the tender's
  (e.g. ≥ 7 bids drop one highest and one lowest, 5–6 drop the highest, fewer none), × (1 + K)
  with K drawn at the opening (下浮系数).
- ``composite``: A × 最高投标限价 × (1 − 下浮率) + B × the trimmed mean, A + B = 1 (×(1 + K) too when
  the tender draws K).
- ``deviation``: d = (price − benchmark) / benchmark × 100 (percent), optionally rounded first
  (偏差率保留两位小数); points off per ``step`` percent: ``linear`` (rate × d / step, continuous; also
  the rule "中间值按插入法计算" with one rate), ``stepped`` (不足1%按1%计: whole steps rounded up),
  ``ignored`` (不足1%不扣分: whole steps rounded down), ``interpolated`` (piecewise-linear bands with
  their own rates, e.g. 0.5 per % up to 3 % below, 1 per % beyond); separate rates above and below;
  never below ``floor`` (e.g. "最多扣5分" with 30 points is floor 25).
- ``ceiling_fen``: bids above the 最高投标限价 are rejected before anything is scored (实施条例 51).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from common.errors import BadRequest

from .exact import ratio_text, to_fraction
from .numbers import Rounding

BENCHMARKS = frozenset({"lowest", "mean", "composite"})
SCORES = frozenset({"ratio", "deviation"})
DEDUCTIONS = frozenset({"linear", "stepped", "ignored", "interpolated"})
MAX_TRIM_ROWS = 20
MAX_BANDS = 10


def _bad(message: str, **details: Any) -> BadRequest:
    return BadRequest(f"price rule: {message}", details=details or None)


def _int(raw: Any, what: str, low: int, high: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not low <= raw <= high:
        raise _bad(f"{what} is an integer from {low} to {high}", what=what)
    return raw


def _num(raw: Any, what: str, low: Fraction | None = None, high: Fraction | None = None) -> Fraction:
    value = to_fraction(raw, what=what)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _bad(f"{what} is out of range", what=what, low=str(low), high=str(high))
    return value


def _keys(raw: Any, what: str, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise _bad(f"{what} is an object", what=what)
    unknown = set(raw) - allowed
    if unknown:
        raise _bad(f"unknown keys in {what}", keys=sorted(unknown))
    return raw


@dataclass(frozen=True)
class TrimRow:
    """From ``count`` valid prices on (until the next row), drop ``high`` highest and ``low`` lowest."""

    count: int
    high: int
    low: int


def trim_row(table: tuple[TrimRow, ...], n: int) -> TrimRow | None:
    """The row of the trimming table that applies to ``n`` prices: the largest ``count`` ≤ n."""
    rows = [r for r in table if r.count <= n]
    return max(rows, key=lambda r: r.count) if rows else None


@dataclass(frozen=True)
class Band:
    upto: Fraction | None  # |d| in percent where the band ends; None: no end
    rate: Fraction  # points per step percent within the band


@dataclass(frozen=True)
class PriceRule:
    benchmark: str = "lowest"
    trim: tuple[TrimRow, ...] = ()
    k_range: tuple[Fraction, Fraction] | None = None
    ceiling_weight: Fraction = Fraction(0)
    mean_weight: Fraction = Fraction(1)
    ceiling_discount: Fraction = Fraction(0)  # 下浮率, percent
    score: str = "ratio"
    deduction: str = "linear"
    step: Fraction = Fraction(1)
    above: tuple[Band, ...] = (Band(None, Fraction(1)),)
    below: tuple[Band, ...] = (Band(None, Fraction(1, 2)),)
    floor: Fraction = Fraction(0)
    deviation_rounding: Rounding | None = None
    ceiling_fen: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The rule in its declared shape, numbers as exact text: the settings page, the report and
        the archive show this."""
        bench: dict[str, Any] = {"kind": self.benchmark}
        if self.benchmark != "lowest":
            bench["trim"] = [{"from": r.count, "high": r.high, "low": r.low} for r in self.trim]
            bench["k"] = None if self.k_range is None else {"min": ratio_text(self.k_range[0]),
                                                             "max": ratio_text(self.k_range[1])}
        if self.benchmark == "composite":
            bench.update(ceiling_weight=ratio_text(self.ceiling_weight),
                         mean_weight=ratio_text(self.mean_weight),
                         ceiling_discount=ratio_text(self.ceiling_discount))
        score: dict[str, Any] = {"kind": self.score}
        if self.score == "deviation":
            score.update(deduction=self.deduction, step=ratio_text(self.step), floor=ratio_text(self.floor),
                         deviation_rounding=None if self.deviation_rounding is None
                         else self.deviation_rounding.as_dict())
            for side, bands in (("above", self.above), ("below", self.below)):
                if self.deduction == "interpolated":
                    score[f"{side}_bands"] = [{"upto": None if b.upto is None else ratio_text(b.upto),
                                               "rate": ratio_text(b.rate)} for b in bands]
                else:
                    score[side] = ratio_text(bands[0].rate)
        return {"benchmark": bench, "score": score, "ceiling_fen": self.ceiling_fen}


def _trim_table(raw: Any) -> tuple[TrimRow, ...]:
    if not isinstance(raw, list) or len(raw) > MAX_TRIM_ROWS:
        raise _bad(f"trim is a list of at most {MAX_TRIM_ROWS} rows")
    rows = []
    for entry in raw:
        entry = _keys(entry, "a trim row", {"from", "high", "low"})
        count = _int(entry.get("from"), "trim from", 1, 9999)
        high, low = _int(entry.get("high", 0), "trim high", 0, 99), _int(entry.get("low", 0), "trim low", 0, 99)
        if high + low >= count:
            raise _bad("a trim row must leave at least one price", row=entry)
        rows.append(TrimRow(count, high, low))
    if len({r.count for r in rows}) != len(rows):
        raise _bad("trim rows start at different counts")
    return tuple(sorted(rows, key=lambda r: r.count))


def _bands(raw: Any, what: str) -> tuple[Band, ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_BANDS:
        raise _bad(f"{what} is a list of 1 to {MAX_BANDS} bands")
    bands, last = [], Fraction(0)
    for n, entry in enumerate(raw):
        entry = _keys(entry, what, {"upto", "rate"})
        rate = _num(entry.get("rate"), f"{what} rate", Fraction(0), Fraction(100))
        upto = entry.get("upto")
        if n == len(raw) - 1 and upto is None:
            bands.append(Band(None, rate))
            break
        if upto is None:
            raise _bad(f"only the last of {what} is open-ended")
        end = _num(upto, f"{what} upto", Fraction(0))
        if end <= last:
            raise _bad(f"{what} end at increasing deviations")
        bands.append(Band(end, rate))
        last = end
    return tuple(bands)


def _rounding(raw: Any) -> Rounding | None:
    if raw is None:
        return None
    raw = _keys(raw, "deviation_rounding", {"mode", "decimals"})
    return Rounding(raw.get("mode", "ROUND_HALF_UP"), raw.get("decimals", 2))


def parse_price_rule(raw: Any, *, full_marks: Fraction | None = None) -> PriceRule:
    """A declared ``price_rule``; every problem is a ``bad_request``."""
    raw = _keys(raw, "price_rule", {"benchmark", "score", "ceiling_fen"})
    bench = _keys(raw.get("benchmark", {"kind": "lowest"}), "benchmark",
                  {"kind", "trim", "k", "ceiling_weight", "mean_weight", "ceiling_discount"})
    kind = bench.get("kind")
    if kind not in BENCHMARKS:
        raise _bad("unknown benchmark kind", allowed=sorted(BENCHMARKS))
    ceiling = raw.get("ceiling_fen")
    if ceiling is not None:
        ceiling = _int(ceiling, "ceiling_fen", 1, 10 ** 15)
    fields: dict[str, Any] = {"benchmark": kind, "ceiling_fen": ceiling}
    if kind != "lowest":
        fields["trim"] = _trim_table(bench.get("trim", []))
        k = bench.get("k")
        if k is not None:
            k = _keys(k, "k", {"min", "max"})
            k_min, k_max = (_num(k.get(e), f"k {e}", Fraction(-99), Fraction(99)) for e in ("min", "max"))
            if k_min > k_max:
                raise _bad("k min is not above k max")
            fields["k_range"] = (k_min, k_max)
    elif set(bench) - {"kind"}:
        raise _bad("the lowest-price benchmark takes no other setting", keys=sorted(set(bench) - {"kind"}))
    if kind == "composite":
        a = _num(bench.get("ceiling_weight"), "ceiling_weight", Fraction(0), Fraction(1))
        b = _num(bench.get("mean_weight"), "mean_weight", Fraction(0), Fraction(1))
        if a + b != 1:
            raise _bad("ceiling_weight + mean_weight = 1")
        if ceiling is None:
            raise _bad("a composite benchmark needs ceiling_fen (最高投标限价)")
        fields.update(ceiling_weight=a, mean_weight=b,
                      ceiling_discount=_num(bench.get("ceiling_discount", "0"), "ceiling_discount",
                                            Fraction(0), Fraction(99)))
    score = _keys(raw.get("score", {"kind": "ratio"}), "score",
                  {"kind", "deduction", "step", "above", "below", "above_bands", "below_bands", "floor",
                   "deviation_rounding"})
    if score.get("kind") not in SCORES:
        raise _bad("unknown score kind", allowed=sorted(SCORES))
    fields["score"] = score["kind"]
    if score["kind"] == "ratio":
        if kind != "lowest":
            raise _bad("a ratio score (benchmark / price) goes with the lowest-price benchmark")
        if set(score) - {"kind"}:
            raise _bad("the ratio score takes no other setting", keys=sorted(set(score) - {"kind"}))
        return PriceRule(**fields)
    deduction = score.get("deduction", "linear")
    if deduction not in DEDUCTIONS:
        raise _bad("unknown deduction", allowed=sorted(DEDUCTIONS))
    fields.update(deduction=deduction, step=_num(score.get("step", "1"), "step", Fraction(1, 10000), Fraction(100)),
                  floor=_num(score.get("floor", "0"), "floor", Fraction(0), full_marks),
                  deviation_rounding=_rounding(score.get("deviation_rounding")))
    for side in ("above", "below"):
        if deduction == "interpolated":
            if side in score:
                raise _bad(f"interpolated deductions give {side}_bands, not one rate")
            fields[side] = _bands(score.get(f"{side}_bands"), f"{side}_bands")
        else:
            if f"{side}_bands" in score:
                raise _bad(f"{side}_bands belong to interpolated deductions")
            fields[side] = (Band(None, _num(score.get(side), f"rate {side}", Fraction(0), Fraction(100))),)
    return PriceRule(**fields)


def rule_from_settings(settings: Mapping[str, Any]) -> PriceRule:
    """The tender's price rule: the declared ``price_rule``, else the one the flat settings state."""
    full = to_fraction(settings["weights"]["price"], what="price weight")
    if settings.get("price_rule") is not None:
        return parse_price_rule(settings["price_rule"], full_marks=full)
    if settings.get("price_formula", "f87_lowest") == "f87_lowest":
        return PriceRule()
    return parse_price_rule({
        "benchmark": {"kind": "mean", "trim": [{"from": settings["trim_prices_from"], "high": 1, "low": 1}],
                      "k": {"min": str(settings["k_min"]), "max": str(settings["k_max"])}},
        "score": {"kind": "deviation", "deduction": "linear", "above": str(settings["rate_above"]),
                  "below": str(settings["rate_below"]), "floor": "0"}}, full_marks=full)
