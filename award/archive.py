"""The award section of a tender's archive (``manage.py export_archive``): the publicity as
published, every objection with its attachments' hashes and its answer, the award and every signed
notice (document, hash, signature), the contract and the deposits' refunds. The audit entries of
each step are in the archive's log section already (``tender`` = the lot)."""

from __future__ import annotations


from common.canonical import canonical_json, format_time

from .models import Award, Publicity


def _t(value):
    return format_time(value) if value else None


def write_award(writer, lot) -> None:
    publicity = Publicity.objects.filter(lot=lot).first()
    if publicity is None:
        return
    objections = [{"id": o.pk, "organisation": o.organisation_id, "grounds": o.grounds,
                   "raised_at": format_time(o.raised_at), "answer_due": format_time(o.answer_due), "state": o.state,
                   "answer": o.answer or None, "answered_at": _t(o.answered_at),
                   "attachments": [{"name": a.name, "content_type": a.content_type, "size": a.size,
                                    "sha256": a.sha256} for a in o.attachments.order_by("id")]}
                  for o in publicity.objections.order_by("id")]
    for o in publicity.objections.order_by("id"):
        for a in o.attachments.order_by("id"):
            writer.write(f"award/objection-{o.pk}/{a.pk}-{a.name}", bytes(a.data))
    section = {"format": "kaibiao/award-archive/v1",
               "publicity": {"report_sha256": publicity.report_sha256, "starts_at": format_time(publicity.starts_at),
                             "ends_at": format_time(publicity.ends_at), "content": publicity.content},
               "objections": objections, "award": None}
    award = Award.objects.filter(lot=lot).first()
    if award is not None:
        section["award"] = {
            "winner": award.winner_code, "organisation": award.winner_id, "price_fen": award.price_fen,
            "reason": award.reason, "decided_at": format_time(award.decided_at),
            "contract_signed_at": _t(award.contract_signed_at), "refund_due": _t(award.refund_due),
            "refunds": [{"organisation": r.organisation_id, "refunded_at": format_time(r.refunded_at), "late": r.late}
                        for r in award.refunds.order_by("id")],
            "notices": [{"id": n.pk, "kind": n.kind, "organisation": n.organisation_id, "document": n.document,
                         "sha256": n.sha256, "signature": n.signature} for n in award.notices.order_by("id")]}
    writer.write("award/award.json", canonical_json(section) + "\n")


def register() -> None:
    from audit.archive import SECTION_WRITERS

    SECTION_WRITERS["award"] = write_award


