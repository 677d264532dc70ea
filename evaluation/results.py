"""What the evaluation hands on to the steps after it: the signed report of a lot, as data.

The award app (candidates' publicity, the award) and the open data read a lot's result through
``signed_result(lot)`` and nothing else of this package: the report is the record, frozen and
hashed when the committee left the ranking and signed by every member (docs/evaluation.md).

A result is returned only for a session in ``done`` whose stored report still hashes to the stored
``report_sha256`` and whose every sitting member signed, dissented or was deemed to agree over that
hash: an edited report (raw SQL on the JSON) is not a result (``ResultTampered``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from common.errors import ErrorCode, PlatformError


class ResultTampered(PlatformError):
    def __init__(self, why: str):
        super().__init__(ErrorCode.INVALID_STATE, "the evaluation report does not match its hash or signatures",
                         details={"reason": "report_tampered", "why": why})


@dataclass(frozen=True)
class Candidate:
    rank: int
    code: str  # the session's bidder code (B01...)
    organisation_id: int
    name: str
    credit_code: str
    price_fen: int
    score: str | None  # the rounded total (comprehensive scoring), a decimal string
    evaluated_fen: int | None  # the evaluated price (lowest evaluated price method)


@dataclass(frozen=True)
class Rejection:
    code: str
    organisation_id: int
    name: str
    criteria: list[str]
    reasons: list[str]  # the members' written reasons for failing the criteria


@dataclass(frozen=True)
class SignedResult:
    session_id: int
    lot_id: int
    report_sha256: str
    outcome: str  # "recommended" | "all_rejected"
    method: str
    candidates: list[Candidate]
    rejections: list[Rejection]
    bidders: list[dict[str, Any]]  # every evaluated bid: code, organisation_id, name, credit_code, price_fen
    signatures: list[dict[str, Any]] = field(default_factory=list)  # member code, kind, at


def signed_result(lot) -> SignedResult | None:
    """The lot's signed evaluation result, or None when no session of the lot is done."""
    from common.canonical import format_time

    from .models import EvaluationSession
    from .report import report_hash

    session = (EvaluationSession.objects.filter(lot=lot, state__step="done").order_by("-id").first())
    if session is None or not session.report:
        return None
    report = session.report
    if report_hash(report) != session.report_sha256:
        raise ResultTampered("report_hash")
    signatures = list(session.signatures.select_related("member").order_by("member__code"))
    sitting = set(session.members.values_list("pk", flat=True))
    if not sitting <= {s.member_id for s in signatures} or any(s.report_sha256 != session.report_sha256
                                                          for s in signatures):
        raise ResultTampered("signatures")
    orgs = dict(session.bidders.values_list("code", "bidder_org_id"))
    by_code = {b["code"]: b for b in report["bidders"]}
    summary = report.get("summary") or {}
    totals = summary.get("bidders") or {}
    evaluated = summary.get("evaluated") or {}
    ranking = report.get("ranking") or {}
    ranks = {r["bidder"]: r["rank"] for r in ranking.get("order", [])}
    candidates = [Candidate(rank=ranks[c], code=c, organisation_id=orgs[c], name=by_code[c]["name"],
                            credit_code=by_code[c]["credit_code"], price_fen=by_code[c]["price_fen"],
                            score=totals.get(c, {}).get("total"), evaluated_fen=evaluated.get(c))
                  for c in ranking.get("candidates", [])]
    votes = report.get("compliance", {}).get("votes", {})
    rejections = []
    for b in report["bidders"]:
        if not b.get("rejected"):
            continue
        reasons = sorted({v["reason"] for per in votes.get(b["code"], {}).values() for v in per.values()
                          if not v["passed"] and not v.get("void") and v.get("reason")})
        rejections.append(Rejection(code=b["code"], organisation_id=orgs[b["code"]], name=b["name"],
                                    criteria=list(b["rejected"]), reasons=reasons))
    return SignedResult(
        session_id=session.pk, lot_id=lot.pk, report_sha256=session.report_sha256,
        outcome=report.get("outcome") or "recommended", method=report["settings"].get("method", ""),
        candidates=candidates, rejections=rejections,
        bidders=[{"code": b["code"], "organisation_id": orgs[b["code"]], "name": b["name"],
                  "credit_code": b["credit_code"], "price_fen": b["price_fen"]} for b in report["bidders"]],
        signatures=[{"member": s.member.code, "kind": s.kind, "at": format_time(s.at)} for s in signatures])
