"""The evaluation report (评标报告): built from the record, hashed, signed by every member, printed.

The report is a JSON document (``kaibiao/evaluation-report/v1``) generated from the session's rows
when the committee leaves the ranking step: the committee and venues, the locks, every compliance
vote with its reasons and the decision, every expert's scores and the aggregate, the price scores,
the alerts and the corrections, the clarifications, the ranking and the recommended candidates,
and the tie-draw seed (revealed here; committed at creation). Also the outcome (``recommended``,
or ``all_rejected`` when the committee rejected all bids, with its vote), replaced members (their
votes and sheets marked void, Reg 48) with each replacement draw's input hash, commitment and seed,
the time extensions (Reg 48), and for the lowest evaluated price method the price-comparison
table with every adjustment and its reason. Its SHA-256 over the canonical JSON
(``common.canonical.canonical_json``) is what members sign:

    message = b"kaibiao/evaluation-report/v1" 0x00 <sha256 hex, ASCII>

with the Ed25519 key registered on their expert record (``Expert.signing_key``). The PDF shows the
same tables and the hash, and is rendered by ``documents.pdf.render_pdf``.
"""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from common.canonical import canonical_json, format_time

from .report_prices import price_context
from .rules.draw_seed import PARTIES

FORMAT = "kaibiao/evaluation-report/v1"
SIGNING_LABEL = FORMAT.encode() + b"\x00"

# Sections that apps above evaluation add to the report, registered at start-up (they may import
# evaluation; evaluation may not import them): name → function(session) → JSON. The collusion app
# adds ``collusion``: the lot's leads and what the committee decided on each, and why.
EXTRA_SECTIONS: dict[str, Callable[[Any], Any]] = {}


def _draw_section(draw) -> dict:
    """The draw as the report keeps it (docs/draw.md): the snapshot's hash, every party's commitment
    and reveal (``null``: withheld), the seed, and every redraw of the lot with its reason and who
    decided."""
    from .actions_redraw import lot_redraws

    contributions = {c.party: c for c in draw.contributions.all()}
    return {"id": draw.pk, "snapshot_sha256": draw.snapshot_sha256, "seed_commitment": draw.seed_commitment,
            "seed": draw.seed_hex or None, "redraw_of": draw.redraw_of_id,
            "contributions": [{"party": p, "commitment": c.commitment,
                               "value": c.value_hex if c.revealed_at else None}
                              for p, c in sorted(contributions.items(), key=lambda pc: PARTIES.index(pc[0]))],
            "redraws": [{k: (format_time(v) if k.endswith("_at") and v else v) for k, v in r.items()}
                        for r in lot_redraws(draw.lot)]}


def signing_message(report_sha256: str) -> bytes:
    return SIGNING_LABEL + report_sha256.encode("ascii")


def report_hash(report: dict[str, Any]) -> str:
    return hashlib.sha256(canonical_json(report).encode("utf-8")).hexdigest()


def build_report(session) -> dict[str, Any]:
    """The report as data, from the record. Deterministic for a given record."""
    from . import state as st

    from .models import Member

    lot = session.lot
    members = list(Member.all_members.filter(session=session).select_related(
        "expert", "expert__user", "venue", "replaces").order_by("code"))
    void = {m.code for m in members if m.replaced_at is not None}
    bidders = list(session.bidders.order_by("code"))
    votes: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for v in session.compliance_votes.select_related("member", "bidder").order_by("bidder__code", "criterion",
                                                                                  "member__code"):
        votes.setdefault(v.bidder.code, {}).setdefault(v.criterion, {})[v.member.code] = {
            "passed": v.passed, "reason": v.reason, "void": v.member.code in void}
    sheets: dict[str, dict[str, Any]] = {}
    void_sheets: dict[str, dict[str, Any]] = {}
    for s in session.sheets.select_related("member", "bidder").order_by("member__code", "bidder__code"):
        target = void_sheets if s.member.code in void else sheets
        target.setdefault(s.member.code, {})[s.bidder.code] = {"values": s.values,
                                                               "total": s.submitted_total or None}
    replacements = [{"member": r.member.code, "reason": r.reason, "note": r.note,
                     "requested_at": format_time(r.requested_at), "approved": r.approved,
                     "decided_at": st._t(r.decided_at),
                     "new_member": r.new_member.code if r.new_member_id else None,
                     "snapshot_sha256": r.snapshot_sha256 or None, "seed_commitment": r.seed_commitment or None,
                     "seed": r.seed_hex or None, "drawn": r.drawn or None}
                    for r in session.replacements.select_related("member", "new_member").order_by("id")]
    clar = [{"bidder": c.bidder.code, "asked_by": c.asked_by.code, "question": c.question,
             "asked_at": format_time(c.asked_at), "deadline": format_time(c.deadline),
             "answer": c.answer or None, "answered_at": st._t(c.answered_at), "purpose": c.purpose,
             "proposal": c.proposal, "confirmed": c.confirmed}
            for c in session.clarifications.select_related("bidder", "asked_by").order_by("id")]
    return {
        "format": FORMAT,
        "session": session.pk,
        "lot": {"id": lot.pk, "project": lot.project.code, "code": lot.code, "title": lot.title},
        "settings": session.rules_settings,
        "scoring": session.scoring,
        "blind": session.blind,
        "draw": _draw_section(session.draw),
        "venues": [{"id": sv.venue_id, "name": sv.venue.name, "main": sv.is_main}
                   for sv in session.venues.select_related("venue").order_by("-is_main", "venue_id")],
        "committee": [{"code": m.code, "name": str(m.expert.user), "title": m.expert.title,
                       "venue": m.venue.name, "chair": m.code == session.state["chair"],
                       "tenderer_rep": m.tenderer_rep, "replaced_at": st._t(m.replaced_at),
                       "replaces": m.replaces.code if m.replaces_id else None} for m in members],
        "locks": session.state["locks"],
        "bidders": [{"code": b.code, "name": b.name, "credit_code": b.credit_code, "price_fen": b.price_fen,
                     "rejected": b.rejected} for b in bidders],
        "compliance": {"votes": votes, "decision": session.compliance},
        "scores": sheets,
        "void_scores": void_sheets,
        "summary": session.summary,
        "outcome": session.state.get("outcome") or "recommended",
        "reject_all": session.reject_all,
        "replacements": replacements,
        "time_extensions": (session.timing or {}).get("extensions", []),
        "adjustments": session.adjustments or {},
        "price_review": session.price_review or {},
        "bills": bill_reports(session),
        "corrections": st.section_corrections(session),
        "clarifications": clar,
        "ranking": session.ranking,
        "tie_seed": session.tie_seed_hex,
        **{name: section(session) for name, section in sorted(EXTRA_SECTIONS.items())},
    }


def bill_reports(session) -> dict[str, Any]:
    """清标 per bid: the bill's hash, when it was checked and the whole (advisory) report."""
    return {r.bidder.code: {"bill_sha256": r.bill_sha256, "checked_at": format_time(r.checked_at), **r.report}
            for r in session.bill_reports.select_related("bidder").order_by("bidder__code")}


def fen_text(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def signed_fen_text(fen: int) -> str:
    return ("+" if fen >= 0 else "−") + fen_text(abs(fen))


def pdf_context(session) -> dict[str, Any]:
    report = session.report or build_report(session)
    names = {b["code"]: b["name"] for b in report["bidders"]}
    items = [i["id"] for i in report["scoring"]["items"]]
    score_rows = []
    for member, per in sorted(report["scores"].items()):
        for bidder, sheet in sorted(per.items()):
            score_rows.append({"member": member, "bidder": bidder, "name": names.get(bidder, ""),
                               "values": [sheet["values"].get(i, "") for i in items], "total": sheet["total"]})
    summary = report["summary"] or {}
    aggregate_rows = [{"bidder": b, "name": names.get(b, ""), **v,
                       "price_score": summary.get("price", {}).get("scores", {}).get(b, "")}
                      for b, v in sorted(summary.get("bidders", {}).items())]
    vote_rows = [{"bidder": b, "name": names.get(b, ""), "criterion": c, "member": m, **v}
                 for b, per in sorted(report["compliance"]["votes"].items())
                 for c, by in sorted(per.items()) for m, v in sorted(by.items())]
    evaluated = summary.get("evaluated") or {}
    ranking = [{**r, "name": names.get(r["bidder"], ""),
                "total": summary.get("bidders", {}).get(r["bidder"], {}).get("total", ""),
                "evaluated": fen_text(evaluated[r["bidder"]]) if r["bidder"] in evaluated else ""}
               for r in (report["ranking"] or {}).get("order", [])]
    price_rows = [{"bidder": b, "name": names.get(b, ""), "price": fen_text(row["price_fen"]),
                   "adjustment": signed_fen_text(row["adjustment_fen"]), "evaluated": fen_text(row["evaluated_fen"]),
                   "items": [{"reason": a["reason"], "amount": signed_fen_text(a["amount_fen"])}
                             for a in row["adjustments"]]}
                  for b, row in sorted((summary.get("price_table") or {}).items())]
    void_rows = [{"member": member, "bidder": bidder, "values": [sheet["values"].get(i, "") for i in items]}
                 for member, per in sorted(report.get("void_scores", {}).items())
                 for bidder, sheet in sorted(per.items())]
    signatures = [{"member": s.member.code, "name": str(s.member.expert.user), "kind": s.kind,
                   "reason": s.reason, "at": format_time(s.at), "signature": s.signature,
                   "algorithm": s.algorithm}
                  for s in session.signatures.select_related("member", "member__expert__user").order_by("member__code")]
    collusion = report.get("collusion") or {}
    return {"report": report, "sha256": session.report_sha256 or report_hash(report), "items": items,
            "collusion_run": collusion.get("run"), "collusion_leads": collusion.get("leads", []),
            "bidders": [{**b, "price": fen_text(b["price_fen"])} for b in report["bidders"]],
            "score_rows": score_rows, "aggregate_rows": aggregate_rows, "vote_rows": vote_rows,
            "ranking": ranking, "signatures": signatures, "price_rows": price_rows, "void_rows": void_rows,
            "lowest_evaluated": report["settings"].get("method") == "lowest_evaluated_price",
            **price_context(report),
            "alerts": [a for per in (summary.get("alerts") or {}).values() for a in per]}


def render_report_pdf(session) -> bytes:
    from documents.pdf import render_pdf

    return render_pdf("documents/evaluation_report.html", pdf_context(session))
