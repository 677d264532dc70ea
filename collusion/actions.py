"""The workflows: run a tender's analysis, analyse the history across tenders, file a tender
document, record the committee's decision on a lead, open and move a case. Each one transaction,
audited with old and new values (``collusion.*`` actions, labelled in ``common.labels``)."""

from __future__ import annotations

import hashlib
import time
from datetime import datetime
from decimal import Decimal

from django.db import transaction

from audit.log import log_action
from bidding.models import Opening
from collusion.signals.graph import co_bidding
from collusion.signals.run import analyse
from common.actor import Actor
from common.canonical import canonical_json, format_time
from common.errors import BadRequest, ErrorCode, PlatformError

from . import conf
from .access import access_lot_for_run, access_lot_leads, require_supervisor
from .gather import gather, tender_outcomes
from .integrity import bidders_sha256
from .models import CASE_TRANSITIONS, AnalysisRun, Case, Lead, TenderDocument

AFTER_OPENING = {"announced", "confirming", "closed"}
MAX_TENDER_DOCUMENT = 256 << 20
MAX_REASON = 2000


def store_leads(run: AnalysisRun, leads, *, lot, actor: Actor, now: datetime, action: str, extra: dict) -> list[Lead]:
    dicts = [x.as_dict() for x in leads]
    run.leads_sha256 = hashlib.sha256(canonical_json(dicts).encode()).hexdigest()
    run.save()
    rows = Lead.objects.bulk_create([
        Lead(run=run, lot=lot, signal=d["signal"], strength=d["strength"], articles=d["articles"],
             organisations=[int(b) for b in d["bidders"]], evidence=d["evidence"]) for d in dicts])
    log_action(action, actor=actor, obj=run, tender_id=lot.pk if lot else None, now=now,
               data={"run": run.pk, "leads_sha256": run.leads_sha256, "settings": run.settings,
                     "leads": [{"id": r.pk, "signal": r.signal, "strength": r.strength,
                                "organisations": r.organisations} for r in rows], **extra})
    return rows


def run_analysis(user, actor: Actor, lot_id, *, now: datetime) -> AnalysisRun:
    """Compute the lot's leads from its decrypted bids (after the prices were announced). The
    documents are read outside any transaction (300-page bids); the run, its leads and the audit
    entry are written in one."""
    lot = access_lot_for_run(user, lot_id)
    opening = Opening.objects.filter(lot=lot).first()
    if opening is None or opening.phase not in AFTER_OPENING:
        raise PlatformError(ErrorCode.INVALID_STATE, "the analysis runs after the opening's announcement")
    raw = conf.raw()
    settings = conf.analysis_settings()
    started = time.perf_counter()
    facts, bidders, problems = gather(lot, max_document_bytes=int(raw["max_document_bytes"]),
                                      max_documents=int(raw["max_documents"]))
    leads = analyse(facts, settings)
    seconds = Decimal(str(round(time.perf_counter() - started, 3)))
    with transaction.atomic():
        run = AnalysisRun(kind=AnalysisRun.Kind.TENDER, lot=lot, started_at=now, seconds=seconds,
                          requested_by=user, settings=conf.snapshot(), bidders=bidders, problems=problems)
        store_leads(run, leads, lot=lot, actor=actor, now=now, action="collusion.analysis.completed",
                     extra={"bidders": sorted(bidders), "bidders_sha256": bidders_sha256(bidders),
                            "problems": problems, "seconds": str(seconds)})
    return run


def analyse_history(user, actor: Actor, *, now: datetime, limit: int = 10_000) -> AnalysisRun:
    """The co-bidding graph over the platform's last ``limit`` tenders (supervisors)."""
    require_supervisor(user)
    started = time.perf_counter()
    tenders = tender_outcomes(limit)
    leads = co_bidding(tenders, conf.graph_settings())
    seconds = Decimal(str(round(time.perf_counter() - started, 3)))
    with transaction.atomic():
        run = AnalysisRun(kind=AnalysisRun.Kind.HISTORY, lot=None, started_at=now, seconds=seconds,
                          requested_by=user, settings={"graph": {k: v for k, v in vars(conf.graph_settings()).items()}},
                          bidders={}, problems=[])
        store_leads(run, leads, lot=None, actor=actor, now=now, action="collusion.history.analysed",
                     extra={"tenders": len(tenders), "seconds": str(seconds)})
    return run


def store_tender_document(user, actor: Actor, lot_id, *, name: str, data: bytes, now: datetime) -> TenderDocument:
    """The host files one of the tender's own documents, whose text is boilerplate to the analysis."""
    name = (name or "").strip()
    if not name or len(name) > 200 or "/" in name or "\\" in name or name.startswith("."):
        raise BadRequest("name the document: a file name without folders, up to 200 characters",
                         details={"code": "bad_document_name"})
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise BadRequest("send the document as the request body")
    if len(data) > MAX_TENDER_DOCUMENT:
        raise BadRequest("the document is larger than 256 MiB", details={"code": "document_too_large",
                                                                         "limit": MAX_TENDER_DOCUMENT})
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        lot = access_lot_for_run(user, lot_id, for_update=True)
        from bidding.access import can_manage_lot

        if not can_manage_lot(user, lot):
            raise PlatformError(ErrorCode.FORBIDDEN, "only the lot's host files the tender's documents")
        doc = TenderDocument.objects.filter(lot=lot, name=name).first()
        old = {"sha256": doc.sha256, "size": doc.size} if doc else None
        if doc is None:
            doc = TenderDocument(lot=lot, name=name)
        doc.sha256, doc.size, doc.data, doc.stored_at = digest, len(data), bytes(data), now
        doc.save()
        log_action("collusion.tender_document.stored", actor=actor, obj=doc, tender_id=lot.pk, now=now,
                   data={"name": name, "old": old, "new": {"sha256": digest, "size": len(data)}})
    return doc


def decide_lead(user, actor: Actor, lead_id, *, decision: str, reason: str, now: datetime) -> Lead:
    """The committee records what it made of a lead and why (the decision stays theirs)."""
    if decision not in {c for c in Lead.Decision.values if c}:
        raise BadRequest("decision is noted, dismissed or referred", details={"code": "bad_decision"})
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise BadRequest(f"give the reason (1 to {MAX_REASON} characters)", details={"code": "reason_required"})
    with transaction.atomic():
        lead = _lead_for_update(lead_id, user)
        lot, role, session = access_lot_leads(user, lead.lot_id)
        if role != "committee":
            raise PlatformError(ErrorCode.FORBIDDEN, "the committee decides on a lead")
        if session.report_sha256:
            # the report records the decisions and is what the members sign: no change after it
            raise PlatformError(ErrorCode.INVALID_STATE, "the evaluation report is generated: the "
                                "committee's decisions on the leads are recorded in it")
        old = {"decision": lead.decision, "reason": lead.reason}
        lead.decision, lead.reason, lead.decided_by, lead.decided_at = decision, reason, user, now
        lead.save(update_fields=["decision", "reason", "decided_by", "decided_at"])
        log_action("collusion.lead.decided", actor=actor, obj=lead, tender_id=lot.pk, now=now,
                   data={"lead": lead.pk, "session": session.pk, "old": old,
                         "new": {"decision": decision, "reason": reason}})
    return lead


def _lead_for_update(lead_id, user) -> Lead:
    from common.access import deny

    try:
        lead = Lead.objects.select_for_update().filter(pk=int(lead_id)).first()
    except (TypeError, ValueError):
        lead = None
    if lead is None or lead.lot_id is None:
        raise deny("lead", lead_id, user, "missing")
    return lead


def open_case(user, actor: Actor, *, lead_ids: list[int], title: str, note: str, now: datetime) -> Case:
    require_supervisor(user)
    title, note = (title or "").strip(), (note or "").strip()
    if not title or len(title) > 200 or len(note) > 5000:
        raise BadRequest("a title (up to 200 characters) and a note (up to 5,000)", details={"code": "bad_case"})
    if not isinstance(lead_ids, list) or not lead_ids or len(lead_ids) > 200:
        raise BadRequest("name 1 to 200 leads", details={"code": "bad_case"})
    with transaction.atomic():
        leads = list(Lead.objects.filter(pk__in=lead_ids))
        if len(leads) != len(set(lead_ids)):
            raise PlatformError(ErrorCode.NOT_FOUND, "lead not found")
        case = Case.objects.create(title=title, note=note, opened_by=user, opened_at=now, updated_at=now)
        case.leads.set(leads)
        tenders = sorted({x.lot_id for x in leads if x.lot_id})
        log_action("collusion.case.opened", actor=actor, obj=case, tender_id=tenders[0] if len(tenders) == 1 else None,
                   now=now, data={"case": case.pk, "old": None, "new": {"title": title, "note": note,
                                                                       "status": case.status,
                                                                       "leads": sorted(x.pk for x in leads),
                                                                       "tenders": tenders}})
    return case


def update_case(user, actor: Actor, case_id, *, status: str | None, note: str | None, now: datetime) -> Case:
    require_supervisor(user)
    with transaction.atomic():
        try:
            case = Case.objects.select_for_update().filter(pk=int(case_id)).first()
        except (TypeError, ValueError):
            case = None
        if case is None:
            raise PlatformError(ErrorCode.NOT_FOUND, "case not found")
        old = {"status": case.status, "note": case.note}
        if status is not None and status != case.status:
            if status not in Case.Status.values:
                raise BadRequest("status is open, investigating, referred or closed", details={"code": "bad_status"})
            if Case.Status(status) not in CASE_TRANSITIONS[Case.Status(case.status)]:
                raise PlatformError(ErrorCode.INVALID_STATE, f"a case {case.status} cannot become {status}")
            case.status = status
        if note is not None:
            if len(note) > 5000:
                raise BadRequest("the note is up to 5,000 characters", details={"code": "bad_case"})
            case.note = note.strip()
        new = {"status": case.status, "note": case.note}
        if new == old:
            return case
        case.updated_at = now
        case.save(update_fields=["status", "note", "updated_at"])
        log_action("collusion.case.updated", actor=actor, obj=case, now=now,
                   data={"case": case.pk, "old": old, "new": new})
    return case


def lead_view(lead: Lead, *, names: dict[int, str], codes: dict[int, str] | None = None,
              blind: bool = False) -> dict:
    """A lead as the API shows it. For a committee (``codes``: organisation → the session's bidder
    code) the bidders are named by code, and in a blind (暗标) session their names are replaced by
    the codes in the evidence too."""
    out = {"id": lead.pk, "run": lead.run_id, "lot": lead.lot_id, "signal": lead.signal, "strength": lead.strength,
           "articles": lead.articles, "evidence": lead.evidence, "decision": lead.decision, "reason": lead.reason,
           "decided_at": format_time(lead.decided_at) if lead.decided_at else None}
    if codes is None:
        out["bidders"] = [{"organisation": o, "name": names.get(o, "")} for o in lead.organisations]
    else:
        out["bidders"] = [{"code": codes.get(o, "?")} for o in lead.organisations]
        out["evidence"] = _coded(lead.evidence, {str(o): c for o, c in codes.items()},
                                 {names[o]: codes[o] for o in codes if names.get(o)} if blind else {})
    return out


def _coded(value, keys: dict[str, str], names: dict[str, str]):
    """The evidence with bidders' keys (organisation ids) as session codes, and (blind) names too."""
    if isinstance(value, dict):
        return {keys.get(k, k): (keys.get(v, v) if k in ("in_documents_of", "names") and isinstance(v, str)
                                 else _coded(v, keys, names)) for k, v in value.items()}
    if isinstance(value, list):
        return [_coded(v, keys, names) for v in value]
    if isinstance(value, str):
        for name, code in names.items():
            value = value.replace(name, code)
    return value
