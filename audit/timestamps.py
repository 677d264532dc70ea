"""RFC 3161 timestamps on checkpoints from the configured TSA (``AUDIT_TSA_URL``), off the append
path: the ticker's anchor timer (``audit.witnesses``) asks for one for every numbered checkpoint
that lacks it, oldest first, verifies the reply against ``AUDIT_TSA_ROOTS`` and stores it. The
message timestamped is the checkpoint's whole signed note (``crypto.timestamp``)."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from crypto.timestamp import TimestampError, load_roots, request_for, verify_timestamp

from .models import AuditCheckpoint, AuditTimestamp

log = logging.getLogger(__name__)

PER_TICK = 50
TIMEOUT = 5.0


def configured() -> bool:
    return bool(getattr(settings, "AUDIT_TSA_URL", ""))


@lru_cache(maxsize=4)
def _roots(path: str):
    if not path:
        raise ImproperlyConfigured("AUDIT_TSA_URL needs AUDIT_TSA_ROOTS: the PEM roots its replies chain to")
    try:
        return load_roots(Path(path).read_bytes())
    except (OSError, TimestampError) as exc:
        raise ImproperlyConfigured(f"AUDIT_TSA_ROOTS: {exc}") from None


def roots():
    return _roots(getattr(settings, "AUDIT_TSA_ROOTS", ""))


def stamp(checkpoint: AuditCheckpoint, now: datetime) -> bool:
    message = checkpoint.note.encode()
    query, nonce = request_for(message)
    request = urllib.request.Request(settings.AUDIT_TSA_URL, data=query, method="POST",
                                     headers={"Content-Type": "application/timestamp-query"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as reply:
            token = reply.read(1 << 16)
        gen_time = verify_timestamp(token, message, roots(), nonce=nonce)
    except (OSError, urllib.error.URLError, TimestampError) as exc:
        log.warning("no timestamp for checkpoint %s: %s", checkpoint.number, exc)
        return False
    AuditTimestamp.objects.create(checkpoint=checkpoint, token=token, gen_time=gen_time, created_at=now)
    return True


def stamp_pending(now: datetime) -> bool:
    """Timestamp the checkpoints that lack one (up to ``PER_TICK``); True when none is left."""
    if not configured():
        return True
    waiting = list(AuditCheckpoint.objects.exclude(number=None).filter(timestamp__isnull=True)
                   .order_by("number")[:PER_TICK + 1])
    for checkpoint in waiting[:PER_TICK]:
        if not stamp(checkpoint, now):
            return False
    return len(waiting) <= PER_TICK
