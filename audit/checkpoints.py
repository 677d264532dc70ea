"""Signed checkpoints of the audit log (C2SP tlog-checkpoint in a signed note), recorded in the log.

Issued at least at every phase change of an opening or evaluation and on request. A checkpoint
commits the platform to the log's first ``size`` entries: later checkpoints must be consistent with
it, and anyone holding it can demand an inclusion proof for any entry below ``size``.

Each checkpoint is numbered (1, 2, … without gaps) and its tree ends with its *record*: an entry
``audit.checkpoint.issued`` appended just before signing, whose data is::

    {"number": k, "reason": "...", "previous": {"number": k - 1, "size": s} | null,
     "tenders": {"<tender id>": {"count": c, "last": i}, ...}}

``tenders`` names every tender with entries since the previous record, with the number of its
entries in the whole log so far (``count``) and the index of its latest (``last``). So a deleted
checkpoint row leaves its record in the log, the numbers in the log show a missing one, and an
archive can prove it holds every entry of its tender (docs/archive.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max

from common import clock
from common.actor import Actor
from crypto.checkpoint import Checkpoint, open_checkpoint

from .keys import platform_verifier, sign_checkpoint_note
from .log import append_locked, entry_body_parts, entry_columns, lock_head
from .models import AuditCheckpoint, AuditEntry
from .sequencer import sequence_pending
from .witnesses import mark_due

RECORD_ACTION = "audit.checkpoint.issued"
RECORD_OBJECT = "audit.checkpoint"


def _tender_totals(start: int, end: int, also: Iterable[int] = ()) -> dict[str, dict[str, int]]:
    """For every tender with an entry in [start, end), and those in ``also``: its entry count and
    last index below end."""
    touched = set(AuditEntry.objects.filter(index__gte=start, index__lt=end, tender_id__isnull=False)
                  .order_by().values_list("tender_id", flat=True).distinct()) | set(also)
    totals = (AuditEntry.objects.filter(tender_id__in=sorted(touched), index__lt=end).order_by()
              .values("tender_id").annotate(count=Count("index"), last=Max("index")))
    return {str(t["tender_id"]): {"count": t["count"], "last": t["last"]} for t in totals}


def issue_checkpoint(reason: str = "", *, now: datetime | None = None,
                     tenders: Iterable[int] = ()) -> AuditCheckpoint:
    """Record and sign the current tree head. Joins the caller's transaction when there is one, so
    a phase change and the checkpoint after it commit together. Pending entries visible here
    (batched mode), the caller's own among them, are sequenced first: the checkpoint covers them.
    The head lock is held from there to the signature, so nothing lands between the entries the
    record counts and the record. The record states the ``tenders`` given even without new entries
    (an archive export states its tender's count at the export)."""
    now = now or clock.now()
    reason = reason[:100]
    with transaction.atomic():
        sequence_pending(limit=None)
        head = lock_head()
        previous = AuditCheckpoint.objects.filter(number__isnull=False).order_by("-number").first()
        number = previous.number + 1 if previous else 1
        data = {"number": number, "reason": reason,
                "previous": {"number": previous.number, "size": previous.size} if previous else None,
                "tenders": _tender_totals(previous.size if previous else 0, head.size, tenders)}
        actor = Actor.system("audit.checkpoint")
        fields = dict(now=now, action=RECORD_ACTION, actor=actor, object_type=RECORD_OBJECT,
                      object_id=str(number), tender_id=None, room="")
        prefix, suffix = entry_body_parts(data=data, **fields)
        append_locked(head, prefix, suffix, entry_columns(**fields))
        root = bytes(head.root)
        body = Checkpoint(origin=settings.AUDIT_ORIGIN, size=head.size, root_hash=root).to_body()
        note = sign_checkpoint_note(body)
        record = AuditCheckpoint.objects.create(number=number, size=head.size, root=root, note=note,
                                                reason=reason, created_at=now)
        mark_due(now)  # witnesses and the TSA are asked by the ticker, after this commits
        return record


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-size", "-id").first()


def verify_stored_checkpoint(record: AuditCheckpoint) -> Checkpoint:
    """Check a stored note against the platform key; raises ``CheckpointError``."""
    return open_checkpoint(record.note, platform_verifier())
