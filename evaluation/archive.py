"""The evaluation's section of a tender's archive: each session's report as data, its SHA-256, and
every member's signature (or dissent, or deemed agreement) with the key that signed it."""

from __future__ import annotations

import json

from .models import EvaluationSession


def write_reports(writer, lot) -> None:
    for session in EvaluationSession.objects.filter(lot=lot).order_by("id"):
        if not session.report:
            continue
        signatures = [{"member": s.member.code, "kind": s.kind, "signature": s.signature,
                       "public_key": s.public_key, "reason": s.reason, "at": s.at.isoformat(),
                       "algorithm": s.algorithm or ("ed25519" if s.signature else "")}
                      for s in session.signatures.select_related("member").order_by("member__code")]
        writer.write(f"reports/evaluation-{session.pk}.json", json.dumps(
            {"format": "kaibiao/evaluation-report/v1", "report": session.report,
             "sha256": session.report_sha256, "signatures": signatures},
            ensure_ascii=False, sort_keys=True, indent=1) + "\n")


def register() -> None:
    from audit.archive import SECTION_WRITERS

    SECTION_WRITERS["evaluation"] = write_reports
