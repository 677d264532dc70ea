"""Signed checkpoints of the audit log (C2SP tlog-checkpoint in a signed note).

Issued at least at every phase change of an opening or evaluation and on request. A checkpoint
commits the platform to the log's first ``size`` entries: later checkpoints must be consistent with
it, and anyone holding it can demand an inclusion proof for any entry below ``size``.
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import transaction

from common import clock
from crypto.checkpoint import Checkpoint, open_checkpoint

from .keys import note_signer
from .models import AuditCheckpoint, AuditHead
from .sequencer import sequence_pending
from .tree import DbTree


def issue_checkpoint(reason: str = "", *, now: datetime | None = None) -> AuditCheckpoint:
    """Sign the current tree head. Joins the caller's transaction when there is one, so a phase
    change and the checkpoint after it commit together. Pending entries visible here (batched
    mode), the caller's own among them, are sequenced first: the checkpoint covers them."""
    now = now or clock.now()
    with transaction.atomic():
        sequence_pending(limit=None)
        head = AuditHead.objects.select_for_update().filter(pk=1).first()
        size = head.size if head else 0
        root = DbTree(size).root()
        body = Checkpoint(origin=settings.AUDIT_ORIGIN, size=size, root_hash=root).to_body()
        note = note_signer().sign(body)
        return AuditCheckpoint.objects.create(size=size, root=root, note=note, reason=reason[:100],
                                              created_at=now)


def latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-size", "-id").first()


def verify_stored_checkpoint(record: AuditCheckpoint) -> Checkpoint:
    """Check a stored note against the platform key; raises ``CheckpointError``."""
    return open_checkpoint(record.note, note_signer().verifier)
