"""The audit log's figures an operator watches, read from the database when ``/metrics`` is scraped
(docs/operations.md, "Metrics"): how many entries wait for their index and for how long (batched
sequencing's lag), the log's size, and the age of the last signed checkpoint and how many entries
it does not cover yet."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Min

from .models import AuditCheckpoint, AuditHead, AuditPending


def figures(now: datetime) -> dict[str, float]:
    pending = AuditPending.objects.aggregate(n=Count("id"), oldest=Min("queued_at"))
    head = AuditHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
    last = AuditCheckpoint.objects.order_by("-size", "-id").values("size", "created_at").first()
    out = {
        "pending": float(pending["n"]),
        "oldest_pending_age": (now - pending["oldest"]).total_seconds() if pending["oldest"] else 0.0,
        "size": float(head),
        "unsigned": float(head - (last["size"] if last else 0)),
    }
    if last is not None:
        out["checkpoint_age"] = max(0.0, (now - last["created_at"]).total_seconds())
    return out
