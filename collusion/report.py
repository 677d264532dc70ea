"""The collusion section of the evaluation report (``report["collusion"]``): the lot's latest
analysis — its id, time and the hash of its leads as audited — and every lead with the bidders by
the session's codes, the legal items, and the committee's decision and reason. The report is what
the members sign, so it records what they made of each lead; once it is generated the decisions
are closed (``collusion.actions.decide_lead``)."""

from __future__ import annotations

from typing import Any

from common.canonical import format_time

from .models import AnalysisRun


def report_section(session) -> dict[str, Any]:
    run = AnalysisRun.objects.filter(lot_id=session.lot_id, kind=AnalysisRun.Kind.TENDER).first()
    if run is None:
        return {"run": None, "leads": []}
    codes = dict(session.bidders.values_list("bidder_org_id", "code"))
    return {"run": {"id": run.pk, "started_at": format_time(run.started_at), "leads_sha256": run.leads_sha256},
            "leads": [{"id": x.pk, "signal": x.signal, "strength": x.strength, "articles": x.articles,
                       "bidders": sorted(codes.get(o, "?") for o in x.organisations), "decision": x.decision or None,
                       "reason": x.reason, "decided_at": format_time(x.decided_at) if x.decided_at else None}
                      for x in run.leads.order_by("id")]}


def register() -> None:
    from evaluation.report import EXTRA_SECTIONS

    EXTRA_SECTIONS["collusion"] = report_section
