"""Prices in a regular pattern (投标报价呈规律性差异, 40(四)) and decryptions too close together.

Prices are integer fen; ratios are compared with integer cross-multiplication, never floats.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from fractions import Fraction

from .leads import Lead, Signal, Strength, lead


@dataclass(frozen=True)
class PriceSettings:
    gap_tolerance_fen: int = 100  # equal differences: gaps equal within 1 yuan (a formula, then rounding)
    ratio_tolerance_fen: int = 100  # equal ratios: p3 within 1 yuan of p2²/p1
    round_fen: int = 100_000  # prices all multiples of 1,000 yuan fall into patterns by chance
    cluster_spread: Fraction = Fraction(2, 1000)  # (max - min) / min of a tight cluster
    cluster_min: int = 3
    ring_margin: Fraction = Fraction(1, 100)  # within 1 % above the low bid
    ring_min: int = 2
    ring_gap: Fraction = Fraction(3, 100)  # the rest at least 3 % above the ring
    benchmark_band: Fraction = Fraction(3, 1000)  # around the benchmark: within 0.3 % of it
    max_bids: int = 200


def _ratio(a: int, b: int) -> str:
    return str((Decimal(a) / Decimal(b)).quantize(Decimal("0.000001")))


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"


def price_patterns(prices: dict[str, int], settings: PriceSettings = PriceSettings(), *,
                   benchmark_fen: int | None = None, benchmark_kind: str = "") -> list[Lead]:
    """``benchmark_fen``: the 评标基准价 the tender's price rule computes from these prices (a mean,
    or a mix of the ceiling and the mean), when there is one."""
    items = sorted((p, b) for b, p in prices.items() if isinstance(p, int) and p > 0)[:settings.max_bids]
    leads: list[Lead] = []
    leads += _progressions(items, settings)
    leads += _clusters(items, settings)
    leads += _ring(items, settings)
    if isinstance(benchmark_fen, int) and benchmark_fen > 0:
        leads += _around_benchmark(items, settings, benchmark_fen, benchmark_kind)
    return leads


def _around_benchmark(items, s: PriceSettings, benchmark: int, kind: str) -> list[Lead]:
    """Bids placed within ``benchmark_band`` of the benchmark: where a mean-based rule gives the
    most points, and where a ring that computed the mean from its own prices puts its bids."""
    group = [(p, b) for p, b in items if abs(p - benchmark) <= s.benchmark_band * benchmark]
    if len(group) < s.cluster_min:
        return []

    def percent(p: int) -> str:
        return str((Decimal((p - benchmark) * 100) / benchmark).quantize(Decimal("0.001")))

    return [lead(Signal.PRICE_PATTERN, [b for _, b in group], Strength.MODERATE if len(group) >= 4 else Strength.WEAK,
                 pattern="around_benchmark", benchmark=_yuan(benchmark), benchmark_kind=kind,
                 prices={b: _yuan(p) for p, b in group}, deviations_percent={b: percent(p) for p, b in group},
                 others=len(items) - len(group))]


def _progressions(items, s: PriceSettings) -> list[Lead]:
    """Three or more bids with equal differences (p, p+d, p+2d...) or equal ratios, among any
    subset of the bids (an honest bid in between does not hide them)."""
    values = [p for p, _ in items]
    found: list[list[int]] = []
    covered: set[tuple[int, ...]] = set()
    n = len(values)
    for i in range(n):
        for j in range(i + 1, n):
            d = values[j] - values[i]
            if d <= 0:
                continue
            run, last = [i, j], j
            for k in range(j + 1, n):
                gap = values[k] - values[last]
                if abs(gap - d) <= s.gap_tolerance_fen:
                    run.append(k)
                    last = k
                elif gap > d + s.gap_tolerance_fen:
                    break
            if len(run) >= 3 and not any(set(run) <= set(c) for c in covered):
                covered.add(tuple(run))
                found.append(run)
    leads = []
    for run in found:
        terms = [values[k] for k in run]
        gaps = [b - a for a, b in zip(terms, terms[1:])]
        exact = len(set(gaps)) == 1
        round_only = all(t % s.round_fen == 0 for t in terms)
        strength = (Strength.WEAK if round_only else
                    Strength.STRONG if exact and len(run) >= 4 else
                    Strength.MODERATE if exact or len(run) >= 4 else Strength.WEAK)
        leads.append(lead(Signal.PRICE_PATTERN, [items[k][1] for k in run], strength, pattern="equal_differences",
                          prices={items[k][1]: _yuan(items[k][0]) for k in run},
                          differences=[_yuan(g) for g in gaps], exact=exact, round_prices=round_only))
    in_ap = {frozenset(items[k][1] for k in run) for run in found}
    for i in range(n):
        for j in range(i + 1, n):
            for k in range(j + 1, n):
                a, b, c = values[i], values[j], values[k]
                if a == b or b == c:
                    continue
                if abs(b * b - a * c) <= s.ratio_tolerance_fen * a:
                    group = frozenset((items[i][1], items[j][1], items[k][1]))
                    if any(group <= g for g in in_ap):
                        continue
                    leads.append(lead(Signal.PRICE_PATTERN, group, Strength.MODERATE, pattern="equal_ratios",
                                      prices={items[x][1]: _yuan(items[x][0]) for x in (i, j, k)},
                                      ratios=[_ratio(b, a), _ratio(c, b)]))
    return leads


def _clusters(items, s: PriceSettings) -> list[Lead]:
    leads, start = [], 0
    n = len(items)
    while start < n:
        end = start
        while end + 1 < n and items[end + 1][0] - items[start][0] <= s.cluster_spread * items[start][0]:
            end += 1
        if end - start + 1 >= s.cluster_min:
            group = items[start:end + 1]
            spread = Fraction(group[-1][0] - group[0][0], group[0][0])
            strength = Strength.MODERATE if len(group) >= 4 else Strength.WEAK
            leads.append(lead(Signal.PRICE_PATTERN, [b for _, b in group], strength, pattern="tight_cluster",
                              prices={b: _yuan(p) for p, b in group}, spread_percent=str((Decimal(spread.numerator * 100) / spread.denominator).quantize(Decimal("0.001")))))
            start = end + 1
        else:
            start += 1
    return leads


def _ring(items, s: PriceSettings) -> list[Lead]:
    """Bids hugging the lowest one (陪标 just above the favourite), the others well above them."""
    if len(items) < s.ring_min + 1:
        return []
    low = items[0][0]
    ring = [(p, b) for p, b in items[1:] if p <= low + s.ring_margin * low]
    rest = items[1 + len(ring):]
    if len(ring) < s.ring_min or (rest and rest[0][0] < ring[-1][0] + s.ring_gap * ring[-1][0]):
        return []
    return [lead(Signal.PRICE_PATTERN, [items[0][1]] + [b for _, b in ring], Strength.WEAK if not rest else Strength.MODERATE,
                 pattern="ring_above_low", low={items[0][1]: _yuan(low)}, ring={b: _yuan(p) for p, b in ring},
                 others=len(rest))]


def close_decryptions(times: dict[str, datetime], *, within_seconds: float = 2.0) -> list[Lead]:
    """Bidders whose decryptions followed each other within ``within_seconds`` (one person working
    through several bidders' keys). Weak on its own: at the start of a window many bidders decrypt
    at once; it counts with the same address or machine."""
    ordered = sorted((t, b) for b, t in times.items() if t is not None)
    leads, group = [], ordered[:1]
    for t, b in ordered[1:]:
        if (t - group[-1][0]).total_seconds() <= within_seconds:
            group.append((t, b))
            continue
        if len(group) >= 2:
            leads.append(_decryption_lead(group))
        group = [(t, b)]
    if len(group) >= 2:
        leads.append(_decryption_lead(group))
    return leads


def _decryption_lead(group) -> Lead:
    span = (group[-1][0] - group[0][0]).total_seconds()
    return lead(Signal.CLOSE_DECRYPTION, [b for _, b in group], Strength.WEAK,
                times={b: t.isoformat() for t, b in group}, span_seconds=round(span, 3))
