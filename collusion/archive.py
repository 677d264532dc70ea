"""The collusion section of a tender's archive (``manage.py export_archive``): every analysis run of
the lot with its settings, problems and leads — the committee's decision and reason on each — and
the hash of the leads its audit entry carries, so the archive shows what the committee was shown
and what it made of it."""

from __future__ import annotations

from common.canonical import canonical_json, format_time

from .models import AnalysisRun


def write_runs(writer, lot) -> None:
    for run in AnalysisRun.objects.filter(lot=lot).order_by("id"):
        leads = [{"id": x.pk, "signal": x.signal, "strength": x.strength, "articles": x.articles,
                  "organisations": x.organisations, "evidence": x.evidence, "decision": x.decision,
                  "reason": x.reason, "decided_at": format_time(x.decided_at) if x.decided_at else None}
                 for x in run.leads.order_by("id")]
        writer.write(f"collusion/run-{run.pk}.json", canonical_json({
            "format": "kaibiao/collusion-run/v1", "started_at": format_time(run.started_at),
            "settings": run.settings, "bidders": run.bidders, "problems": run.problems,
            "leads_sha256": run.leads_sha256, "leads": leads}) + "\n")


def register() -> None:
    from audit.archive import SECTION_WRITERS

    SECTION_WRITERS["collusion"] = write_runs
