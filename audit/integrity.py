"""The ticker's bounded, incremental check of the log, and its alert on the supervisors' console.

Each run (``AUDIT_CHECK_INTERVAL`` seconds apart, at most ``BATCH`` entries) resumes where the last
one stopped, from its own recomputed frontier, and checks what ``audit_check`` checks for the new
entries: leaf hashes, displayed columns, stored nodes, new checkpoints' notes against their rows,
their records and the recomputed tree; once caught up, the head's root and frontier against its
own frontier — so an insider who rewrites an *old* entry and recomputes every hash still changes
the head the check compares with. It does not recount tenders (the full check does).

A finding is appended to the log as ``audit.integrity.failed`` (a critical alert on the console);
the check then stays where it is and raises the same findings only once.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q

from common.actor import Actor

from .log import log_action
from .models import AuditCheckpoint, AuditCheckState, AuditHead
from .verify import LogChecker, Report, entry_rows, frontier_rows

BATCH = 5000
ALERT_ACTION = "audit.integrity.failed"


def check_increment(state: AuditCheckState, *, limit: int = BATCH) -> Report:
    """Check up to ``limit`` entries after ``state``; advances ``state`` (unsaved) when all is well."""
    report = Report()
    head = AuditHead.objects.filter(pk=1).first()
    end = min(head.size if head else 0, state.size + limit)
    rows = list(AuditCheckpoint.objects.filter(
        Q(size__gt=state.size, size__lte=end) | Q(number__gt=state.record_number)).order_by("size", "id"))
    checker = LogChecker(report, rows, size=state.size, frontier=state.frontier,
                         record_number=state.record_number, count_tenders=False)
    followed = all(checker.entry(row) for row in entry_rows(state.size, end))
    if followed and checker.size < end:
        report.add("entry_missing", f"entry {checker.size} is missing")
    checker.finish(complete=False)
    if followed and checker.size == (head.size if head else 0):
        checker.compare_head(head)
    if report.ok:
        state.size = checker.size
        state.frontier = frontier_rows(checker.builder)
        state.record_number = checker.record_number
    return report


def _digest(report: Report) -> str:
    return hashlib.sha256("\n".join(p.message for p in report.problems).encode()).hexdigest()


def run_check(state: AuditCheckState, now: datetime) -> Report:
    """The timer's callback (state row locked): check, alert once per new set of findings."""
    report = check_increment(state)
    digest = "" if report.ok else _digest(report)
    if digest and digest != state.problems_digest:
        log_action(ALERT_ACTION, actor=Actor.system("audit.integrity"), object_type="audit.log",
                   data={"from": state.size, "problems": [p.as_dict() for p in report.problems[:20]],
                         "more": max(len(report.problems) - 20, 0) + report.more}, now=now)
    state.problems_digest = digest
    state.checked_at = now
    state.next_check = now + timedelta(seconds=getattr(settings, "AUDIT_CHECK_INTERVAL", 10))
    state.save()
    return report


def register() -> None:
    from realtime.timers import register_timer

    register_timer("audit.integrity", AuditCheckState, run_check)
