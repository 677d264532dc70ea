"""Completions pending on the platform's signature: "nothing lost" when the platform fails
(电子招标投标办法 27; docs/envelope.md, "A completion that could not be signed").

A bidder's ``complete`` whose receipt cannot be signed (the platform's HSM is away:
``SigningUnavailable``) is rolled back whole. When every byte was in (``offset == size``) and the
request came before the deadline, the upload records — durably, in the same own transaction as the
``bidding.bid.receipt_failed`` entry — the time of that first request, the SHA-256 the server
computed of the bytes then (never the client's claim) and who asked. Such an upload is **pending**:

- the deadline does not void it (``keep_pending``, audited ``bidding.bid.completion_pending``);
- ``complete`` after the deadline is accepted for it, only if its bytes still hash to the recorded
  SHA-256 (``received_at``); PATCH stays refused for it as for every upload;
- its receipt's ``received_at`` is the recorded request time (the bytes were all in then), and the
  ``bidding.bid.submitted`` entry says both ``requested_at`` and ``signed_at``;
- the ticker completes it through ``complete_upload`` on behalf of the requesting user once the key
  signs again (``bidding.pending_ticker``), and the opening of its lot waits for it
  (``check_none_pending``: ``completion_pending``).

It stops being pending when the bidder acts on the lot after the request: a later bid received, or
a withdrawal — the bidder's latest act wins, a stale request never overrides it.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models, transaction

from audit.log import log_action
from audit.models import AuditEntry, AuditPending
from common.actor import Actor
from common.canonical import format_time
from common.errors import ErrorCode, PlatformError

from .models import BidSubmission, BidUpload, Lot

log = logging.getLogger(__name__)
HELD_ACTION = "bidding.opening.completion_pending"


def _later_act():
    """A submission received, or a bid withdrawn, by the same bidder on the same lot after the
    upload's completion request (an ``OuterRef`` subquery on ``BidUpload``)."""
    requested = models.OuterRef("completion_requested_at")
    return BidSubmission.objects.filter(
        lot_id=models.OuterRef("lot_id"), organisation_id=models.OuterRef("organisation_id")).filter(
        models.Q(received_at__gt=requested) | models.Q(withdrawn_at__gt=requested))


def pending_uploads():
    """Open uploads with a completion requested before their lot's deadline that nothing later
    of the same bidder replaced."""
    return (BidUpload.objects.filter(status=BidUpload.Status.OPEN, completion_requested_at__isnull=False,
                                     completion_requested_at__lt=models.F("lot__bid_deadline"))
            .exclude(models.Exists(_later_act())))


def is_pending(upload: BidUpload) -> bool:
    return upload.completion_requested_at is not None and pending_uploads().filter(pk=upload.pk).exists()


def record_unsigned(user, actor: Actor, lot: Lot, upload: BidUpload, sha256: str, size: int,
                    now: datetime, exc: Exception) -> None:
    """A complete whose receipt could not be signed, in its own transaction (the attempt's rolled
    back): the audit entry, and — for a full upload before the deadline — the pending request. The
    first request's time and hash are kept while it is pending; each failure moves the ticker's
    next attempt."""
    retry = timedelta(seconds=settings.BID_PENDING_RETRY_SECONDS)
    with transaction.atomic():
        first = False
        if now < lot.bid_deadline and size == upload.size and not is_pending(upload):
            # The first request — or one after a later act of the bidder made the last stale.
            first = bool(BidUpload.objects.filter(pk=upload.pk, status=BidUpload.Status.OPEN).update(
                completion_requested_at=now, completion_sha256=sha256, completion_user=user))
        BidUpload.objects.filter(pk=upload.pk, completion_requested_at__isnull=False).update(
            completion_next_try=now + retry)
        requested = BidUpload.objects.values_list("completion_requested_at", flat=True).get(pk=upload.pk)
        log_action("bidding.bid.receipt_failed", actor=actor, object_type="bidding.upload", object_id=upload.pk,
                   tender_id=lot.pk, now=now,
                   data={"upload": str(upload.pk), "organisation": upload.organisation_id, "sha256": sha256,
                         "size": size, "code": ErrorCode.SIGNING_UNAVAILABLE.value, "message": str(exc)[:200],
                         "pending_since": format_time(requested) if requested else None,
                         "first_request": first})


def received_at(upload: BidUpload, sha256: str, now: datetime) -> datetime:
    """The time the receipt states for this completion: the pending request's, if the upload is
    pending and its bytes still have the SHA-256 recorded then; ``now`` otherwise. A pending upload
    whose bytes changed is refused (``sha256_mismatch``, audited by the caller): no byte may change
    once completion was asked for; one whose request is not in the audit log, ``invalid_state``."""
    if not is_pending(upload):
        return now
    if not _request_on_record(upload):
        # The columns say pending, the log does not: an edited row (an insider) gains nothing.
        raise PlatformError(ErrorCode.INVALID_STATE, "this upload's completion request is not in the "
                            "audit log", details={"requested_at": format_time(upload.completion_requested_at)})
    if sha256 != upload.completion_sha256:
        raise PlatformError(ErrorCode.SHA256_MISMATCH, "the bytes are not those whose completion was "
                            "asked for", details={"sha256": sha256, "requested_sha256": upload.completion_sha256,
                                                  "requested_at": format_time(upload.completion_requested_at)})
    return upload.completion_requested_at


def _request_on_record(upload: BidUpload) -> bool:
    """Whether the log holds the request the columns state: a ``bidding.bid.receipt_failed`` entry
    of this upload, at the recorded time, with the recorded SHA-256, that made it pending. The
    columns alone are not proof (the database's rows can be edited; the log is hash-chained and
    checkpointed, docs/audit.md)."""
    requested = format_time(upload.completion_requested_at)
    bodies = [e.body for e in AuditEntry.objects.filter(action="bidding.bid.receipt_failed",
                                                         object_id=str(upload.pk))]
    bodies += [p.prefix + "0" + p.suffix for p in AuditPending.objects.filter(
        action="bidding.bid.receipt_failed", object_id=str(upload.pk))]
    for body in bodies:
        data = json.loads(body).get("data", {})
        if (data.get("first_request") is True and data.get("pending_since") == requested
                and data.get("sha256") == upload.completion_sha256 and data.get("upload") == str(upload.pk)):
            return True
    return False


def keep_pending(now: datetime) -> int:
    """At the deadline: keep each pending upload (not voided, its bytes stay), audited once."""
    kept = 0
    for upload in pending_uploads().filter(lot__bid_deadline__lte=now, completion_kept_at__isnull=True):
        with transaction.atomic():
            if not BidUpload.objects.filter(pk=upload.pk, completion_kept_at__isnull=True).update(
                    completion_kept_at=now):
                continue
            log_action("bidding.bid.completion_pending", actor=Actor.system(), obj=upload,
                       tender_id=upload.lot_id, now=now,
                       data={"upload": str(upload.pk), "organisation": upload.organisation_id,
                             "sha256": upload.completion_sha256, "size": upload.size,
                             "requested_at": format_time(upload.completion_requested_at)})
        kept += 1
    return kept


def check_none_pending(lot: Lot) -> None:
    """The opening of ``lot`` may not start while a completion of its bids is pending — nor, after
    the deadline's expiry, while an upload of it is still open (a request held its lock: it may be
    the one recording its completion pending; ``upload_busy`` with nothing audited)."""
    waiting = list(pending_uploads().filter(lot=lot).order_by("completion_requested_at")
                   .values_list("pk", "completion_requested_at"))
    if not waiting and BidUpload.objects.filter(lot=lot, status=BidUpload.Status.OPEN).exists():
        raise PlatformError(ErrorCode.UPLOAD_BUSY, "a request on an upload of this lot is in progress")
    if waiting:
        raise PlatformError(ErrorCode.COMPLETION_PENDING, "a bid's completion waits for the platform's "
                            "signature: the opening waits for it", temporary=True,
                            details={"uploads": [str(pk) for pk, _ in waiting],
                                     "since": format_time(waiting[0][1])})


def hold_opening(lot: Lot, error: PlatformError, now: datetime) -> None:
    """Audit (once per lot: a console alert) that the opening waits for pending completions (not
    for a request in progress: that is a moment)."""
    if error.code != ErrorCode.COMPLETION_PENDING or (AuditEntry.objects.filter(action=HELD_ACTION, tender_id=lot.pk).exists()
            or AuditPending.objects.filter(action=HELD_ACTION, tender_id=lot.pk).exists()):
        return
    log_action(HELD_ACTION, actor=Actor.system("ticker"), object_type="bidding.lot", object_id=lot.pk,
               tender_id=lot.pk, now=now, data={"code": error.code.value, **error.details})


def void_lost(upload: BidUpload, now: datetime) -> None:
    """A pending upload whose bytes are gone from the disk (a platform fault, or an insider): it
    cannot be completed, and the opening may not wait for it for ever. Voided, audited (an alert:
    the bidder's loss is the platform's fault, on the record for the opening's classification)."""
    with transaction.atomic():
        if not BidUpload.objects.filter(pk=upload.pk, status=BidUpload.Status.OPEN).update(
                status=BidUpload.Status.ABORTED, updated_at=now):
            return
        log_action("bidding.bid.pending_lost", actor=Actor.system("ticker"), obj=upload,
                   tender_id=upload.lot_id, now=now,
                   data={"upload": str(upload.pk), "organisation": upload.organisation_id,
                         "sha256": upload.completion_sha256,
                         "requested_at": format_time(upload.completion_requested_at),
                         "code": ErrorCode.UPLOAD_LOST.value})
