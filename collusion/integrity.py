"""Whether a run's stored leads are the ones computed: the SHA-256 of their canonical JSON,
recomputed from the rows, must equal the hash the run's audit entry carries (the entry is in the
hash-chained, checkpointed log; the rows are not). A lead edited in the database afterwards — its
evidence, strength or bidders — no longer matches, and the pages and the API say so."""

from __future__ import annotations

import hashlib
import json

from audit.models import AuditEntry, AuditPending
from common.canonical import canonical_json

from .models import AnalysisRun

RUN_ACTIONS = ("collusion.analysis.completed", "collusion.history.analysed")


def stored_leads_sha256(run: AnalysisRun) -> str:
    dicts = [{"signal": x.signal, "bidders": [str(o) for o in x.organisations], "strength": x.strength,
              "articles": x.articles, "evidence": x.evidence} for x in run.leads.order_by("id")]
    return hashlib.sha256(canonical_json(dicts).encode()).hexdigest()


def bidders_sha256(bidders: dict) -> str:
    """Of a run's record per bidder (where each bid was sealed, sent and opened from)."""
    return hashlib.sha256(canonical_json(bidders).encode()).hexdigest()


def audited_data(run: AnalysisRun) -> dict | None:
    entries = AuditEntry.objects.filter(action__in=RUN_ACTIONS, object_type="collusion.analysisrun",
                                        object_id=str(run.pk)).values_list("body", flat=True)
    for body in entries:
        return json.loads(body).get("data") or {}
    # batched sequencing: the entry may still be queued, milliseconds after the run
    for prefix, suffix in AuditPending.objects.filter(action__in=RUN_ACTIONS, object_type="collusion.analysisrun",
                                                      object_id=str(run.pk)).values_list("prefix", "suffix"):
        return json.loads(prefix + "0" + suffix).get("data") or {}
    return None


def audited_leads_sha256(run: AnalysisRun) -> str | None:
    data = audited_data(run)
    return None if data is None else data.get("leads_sha256")


def run_is_intact(run: AnalysisRun) -> bool:
    """True when the stored leads hash to what the run's audit entry says, and so does the record
    per bidder (runs audited before it was hashed carry no ``bidders_sha256``); False otherwise
    (edited rows, or no entry at all)."""
    data = audited_data(run)
    if data is None or data.get("leads_sha256") != run.leads_sha256 or run.leads_sha256 != stored_leads_sha256(run):
        return False
    return "bidders_sha256" not in data or data["bidders_sha256"] == bidders_sha256(run.bidders)
