"""Price deductions for small and micro enterprises in government procurement (中小企业价格扣除).

Sources:
- 《政府采购促进中小企业发展管理办法》(财库〔2020〕46号) Art. 9: for a project (or lot) not reserved
  for SMEs, small and micro enterprises' prices get a 6 %–10 % deduction (works: 3 %–5 %) and the
  deducted price takes part in the evaluation; a consortium with, or a large/medium enterprise
  subcontracting to, small/micro enterprises whose agreed share is 30 % or more of the contract
  (30%以上: the number itself included) gets 2 %–3 % (works: 1 %–2 %); no deduction when the
  small/micro members are in a direct holding or management relation with the other members or the
  subcontractor. Works tendered under the Bidding Law by comprehensive scoring without a
  lowest-price score add 3 %–5 % (consortium 1 %–2 %) *of the price score* instead. Art. 11: an
  SME shows the 《中小企业声明函》, else it gets no such benefit. Small and micro are not told apart.
- 《关于进一步加大政府采购支持中小企业力度的通知》(财库〔2022〕19号) Art. 2: for goods and services the
  deduction is raised from 6 %–10 % to 10 %–20 %, and for consortia/subcontracting from 2 %–3 % to
  4 %–6 %; works keep the 46号 ranges.

The tender states its rates within these ranges (``parse_sme_rule``). The deduction changes the
*evaluated* price only (``evaluated_prices``: exact Fractions of fen); the contract price stays the
bid price, and the ceiling check and the 唱标 use the bid price. Each bidder's declaration is
recorded as given (``parse_declaration``), with the hash of the 声明函 file it refers to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from common.errors import BadRequest

from .exact import ratio_text, to_fraction

PROJECTS = ("goods_services", "works")
# (project, kind) -> (lowest, highest) rate in percent, and the text that sets it.
RANGES: dict[tuple[str, str], tuple[Fraction, Fraction, str]] = {
    ("goods_services", "small_micro"): (Fraction(10), Fraction(20), "财库〔2022〕19号 Art. 2 (46号 Art. 9: 6–10 %)"),
    ("goods_services", "consortium"): (Fraction(4), Fraction(6), "财库〔2022〕19号 Art. 2 (46号 Art. 9: 2–3 %)"),
    ("works", "small_micro"): (Fraction(3), Fraction(5), "财库〔2020〕46号 Art. 9"),
    ("works", "consortium"): (Fraction(1), Fraction(2), "财库〔2020〕46号 Art. 9"),
}
MIN_SHARE = Fraction(30)  # percent of the contract, included (30%以上)
KINDS = frozenset({"small_micro", "consortium", "none"})
MODES = frozenset({"price_deduction", "score_addition"})
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class SmeRule:
    project: str
    rates: dict[str, Fraction]  # kind -> percent
    mode: str = "price_deduction"

    def as_dict(self) -> dict[str, Any]:
        return {"project": self.project, "mode": self.mode,
                "rates": {k: ratio_text(v) for k, v in sorted(self.rates.items())},
                "sources": {k: RANGES[(self.project, k)][2] for k in sorted(self.rates)}}


def parse_sme_rule(raw: Any) -> SmeRule:
    """``{"project": "goods_services" | "works", "small_micro": "10", "consortium": "4",
    "mode": "price_deduction" | "score_addition"}`` — each rate within its legal range."""
    if not isinstance(raw, dict) or set(raw) - {"project", "small_micro", "consortium", "mode"}:
        raise BadRequest("sme is {project, small_micro, consortium?, mode?}")
    project, mode = raw.get("project"), raw.get("mode", "price_deduction")
    if project not in PROJECTS:
        raise BadRequest("sme project is goods_services or works", details={"allowed": list(PROJECTS)})
    if mode not in MODES or (mode == "score_addition" and project != "works"):
        raise BadRequest("the price-score addition is for works tendered under the Bidding Law (46号 Art. 9)")
    rates: dict[str, Fraction] = {}
    for kind in ("small_micro", "consortium"):
        if raw.get(kind) is None:
            continue
        low, high, source = RANGES[(project, kind)]
        rate = to_fraction(raw[kind], what=f"sme {kind} rate")
        if not low <= rate <= high:
            raise BadRequest(f"the {kind} rate is outside {ratio_text(low)}–{ratio_text(high)} %",
                             details={"kind": kind, "low": ratio_text(low), "high": ratio_text(high),
                                      "source": source})
        rates[kind] = rate
    if "small_micro" not in rates:
        raise BadRequest("the tender states the small and micro enterprises' rate")
    return SmeRule(project, rates, mode)


@dataclass(frozen=True)
class Declaration:
    """The bidder's 中小企业声明函 as given: its kind, the small/micro share for a consortium or a
    subcontract, whether a holding/management relation exists, and the SHA-256 of the file."""

    kind: str
    share_percent: Fraction | None
    related: bool
    statement_sha256: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "share_percent": None if self.share_percent is None else ratio_text(self.share_percent),
                "related": self.related, "statement_sha256": self.statement_sha256}


def parse_declaration(raw: Any) -> Declaration:
    if not isinstance(raw, dict) or set(raw) - {"kind", "share_percent", "related", "statement_sha256"}:
        raise BadRequest("a declaration is {kind, share_percent?, related?, statement_sha256}")
    kind = raw.get("kind")
    if kind not in KINDS:
        raise BadRequest("a declaration's kind is small_micro, consortium or none", details={"allowed": sorted(KINDS)})
    share = raw.get("share_percent")
    share = None if share is None else to_fraction(share, what="share_percent")
    if kind == "consortium" and (share is None or not 0 <= share <= 100):
        raise BadRequest("a consortium declaration states the small/micro share (0–100 %)")
    digest = raw.get("statement_sha256")
    if kind != "none" and (not isinstance(digest, str) or not _SHA256.match(digest)):
        raise BadRequest("a declaration refers to its 声明函 by SHA-256 (64 lowercase hex)")
    related = raw.get("related", False)
    if not isinstance(related, bool):
        raise BadRequest("related is true or false")
    return Declaration(kind, share, related, digest if kind != "none" else None)


def rate_for(rule: SmeRule, declaration: Declaration | None) -> tuple[Fraction, str]:
    """(rate in percent, why) for one bidder: 0 without a qualifying declaration."""
    if declaration is None or declaration.kind == "none":
        return Fraction(0), "no_declaration" if declaration is None else "not_sme"
    if declaration.related:
        return Fraction(0), "related_parties"  # 46号 Art. 9: 直接控股、管理关系
    if declaration.kind == "consortium":
        if "consortium" not in rule.rates:
            return Fraction(0), "consortium_not_offered"
        if declaration.share_percent is None or declaration.share_percent < MIN_SHARE:
            return Fraction(0), "share_below_30"
        return rule.rates["consortium"], "consortium"
    return rule.rates["small_micro"], "small_micro"


@dataclass(frozen=True)
class SmeResult:
    evaluated: dict[str, Fraction]  # the prices the evaluation uses (fen, exact)
    score_factor: dict[str, Fraction]  # 1 + rate under score_addition, else 1
    record: dict[str, dict[str, Any]]


def apply(rule: SmeRule | None, prices: Mapping[str, int],
          declarations: Mapping[str, Declaration | None]) -> SmeResult:
    """The evaluated prices: bid price × (1 − rate) under ``price_deduction``; the bid price and a
    price-score factor (1 + rate) under ``score_addition``. Bid prices are not changed."""
    evaluated, factor, record = {}, {}, {}
    for bidder, price in prices.items():
        rate, why = (Fraction(0), "no_rule") if rule is None else rate_for(rule, declarations.get(bidder))
        if rule is not None and rule.mode == "score_addition":
            evaluated[bidder], factor[bidder] = Fraction(price), 1 + rate / 100
        else:
            evaluated[bidder], factor[bidder] = Fraction(price) * (1 - rate / 100), Fraction(1)
        decl = declarations.get(bidder)
        record[bidder] = {"price_fen": price, "rate_percent": ratio_text(rate), "basis": why,
                          "evaluated_fen": ratio_text(evaluated[bidder]),
                          "declaration": None if decl is None else decl.as_dict()}
    return SmeResult(evaluated, factor, record)
