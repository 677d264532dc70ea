"""Sealed-bid submission: resumable upload, the header check, durable storage, the receipt,
replacement and withdrawal (电子招标投标办法 26-27).

``check_*`` validate and authorise; ``do_*`` assume valid input and a held row lock. Every state
change writes its audit entry in the same transaction. A refused attempt (late, not an envelope,
wrongly addressed, too large) is audited as ``bidding.bid.refused`` in its own transaction, after
the partial file is removed: nothing half-stored remains.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import datetime
from typing import Callable

from django.conf import settings
from django.db import transaction

from audit.log import log_action
from bidding.access import access_bid_lot, access_submission, access_upload
from common.actor import Actor
from common.canonical import format_time
from common.crash import crash_point
from common.errors import ErrorCode, PlatformError
from crypto.envelope import InvalidEnvelope, read_header
from crypto.signing import SigningUnavailable

from . import bid_rules, pending, storage
from .certificates import certificate_to_seal_for, current_certificate_for
from .lifecycle import Status as LotStatus
from .models import BidSubmission, BidUpload, EscrowKey, Lot
from .receipts import issue_receipt

_SHA256 = re.compile(r"[0-9a-f]{64}")
# Refusals worth an audit entry: the attempt itself is evidence (a late bid, a bid not sealed).
AUDITED_REFUSALS = frozenset({
    ErrorCode.DEADLINE_PASSED, ErrorCode.INVALID_ENVELOPE, ErrorCode.ENVELOPE_BINDING_MISMATCH,
    ErrorCode.KEY_NOT_CURRENT, ErrorCode.NO_CURRENT_CERTIFICATE, ErrorCode.ESCROW_RECIPIENT_MISMATCH,
    ErrorCode.ENVELOPE_SUITE_MISMATCH, ErrorCode.CERTIFICATE_SUITE_MISMATCH,
    ErrorCode.BID_TOO_LARGE, ErrorCode.SHA256_MISMATCH, ErrorCode.ESCROW_NOT_READY,
    ErrorCode.INVALID_STATE,
})


def _audit_refusal(actor: Actor, lot: Lot, error: PlatformError, now: datetime,
                   upload: BidUpload | None = None) -> None:
    """Record a refused attempt in its own transaction (the attempt's own one rolled back)."""
    with transaction.atomic():
        if upload is not None:
            BidUpload.objects.filter(pk=upload.pk, status=BidUpload.Status.OPEN).update(
                status=BidUpload.Status.REFUSED, updated_at=now)
        log_action("bidding.bid.refused", actor=actor, object_type="bidding.lot", object_id=lot.pk,
                   tender_id=lot.pk, now=now,
                   data={"code": error.code.value, "message": error.message,
                         "upload": str(upload.pk) if upload else None,
                         "organisation": actor.organisation_id})


def _refusing(actor: Actor, lot: Lot, now: datetime, upload: BidUpload | None = None):
    """Context for an attempt: on an audited refusal remove the partial file, audit, re-raise."""
    class _Ctx:
        def __enter__(self):
            return self

        def __exit__(self, kind, exc, tb):
            if isinstance(exc, PlatformError) and exc.code in AUDITED_REFUSALS:
                if upload is not None:
                    storage.remove(storage.partial_path(upload.pk))
                _audit_refusal(actor, lot, exc, now, upload)
            return False
    return _Ctx()


def _expected(lot: Lot, organisation, now: datetime) -> bid_rules.Expected:
    cert = certificate_to_seal_for(lot, organisation.pk, now)
    escrow_key_id, custodian_key_ids, threshold = None, (), None
    if lot.escrow_required:
        escrow = EscrowKey.objects.filter(lot=lot).first()
        if escrow is None:
            raise PlatformError(ErrorCode.ESCROW_NOT_READY,
                                "this tender's custodians are not named yet; try later", temporary=True)
        if escrow.scheme == EscrowKey.Scheme.DEALER:
            escrow_key_id = escrow.key_id
        else:
            custodian_key_ids = tuple(escrow.shares.order_by("index").values_list("key_id", flat=True))
            threshold = escrow.threshold
    return bid_rules.Expected(tender=lot.project.code, lot=lot.code, bidder=organisation.credit_code,
                              bidder_key_id=cert.key_id, escrow_key_id=escrow_key_id,
                              custodian_key_ids=custodian_key_ids, threshold=threshold,
                              suite=lot.cipher_suite)


def check_can_bid(lot: Lot, now: datetime) -> None:
    if lot.status != LotStatus.PUBLISHED:
        raise PlatformError(ErrorCode.INVALID_STATE, "this tender is not open for bids",
                            details={"status": lot.status})
    bid_rules.check_before_deadline(lot.bid_deadline, now)


def start_upload(user, actor: Actor, lot_id: int, *, size: int, sha256: str | None,
                 now: datetime) -> BidUpload:
    lot = access_bid_lot(user, lot_id)
    if sha256 is not None and not _SHA256.fullmatch(sha256):
        raise PlatformError(ErrorCode.BAD_REQUEST, "sha256 is 64 lowercase hex digits")
    with _refusing(actor, lot, now):
        check_can_bid(lot, now)
        bid_rules.check_size(size, lot.max_bid_bytes)
        _expected(lot, user.organisation, now)  # fail early: no certificate, no escrow key
    with transaction.atomic():
        upload = BidUpload.objects.create(lot=lot, organisation=user.organisation, user=user, size=size,
                                          sha256=sha256 or "", created_at=now, updated_at=now)
        storage.create_partial(upload.pk)
        log_action("bidding.bid.upload_started", actor=actor, obj=upload, tender_id=lot.pk, now=now,
                   data={"upload": str(upload.pk), "size": size, "organisation": user.organisation_id,
                         "user_agent": actor.user_agent})
    crash_point("create")
    return upload


def _locked_partial(upload: BidUpload, wait_until: float | None = None):
    """The open upload's partial file under its lock; ``upload_lost`` if its bytes are gone (a
    platform fault, or a crash of an older version mid-complete): the client starts a new upload."""
    partial = storage.partial_path(upload.pk)
    if not partial.exists():
        raise PlatformError(ErrorCode.UPLOAD_LOST, "this upload's bytes are not on the server any "
                            "more: start a new upload", details={"upload": str(upload.pk)})
    return storage.locked(partial, wait_until=wait_until)


def _open_upload(user, upload_id, actor: Actor, now: datetime, *, completing: bool = False) -> BidUpload:
    upload = access_upload(user, upload_id)
    if upload.status != BidUpload.Status.OPEN:
        raise PlatformError(ErrorCode.INVALID_STATE, f"the upload is {upload.status}",
                            details={"status": upload.status})
    if now >= upload.lot.bid_deadline:
        # A completion asked for in time and not signed by the platform's fault is pending: it may
        # still be completed (its bytes checked against the hash recorded then), never written to.
        kept = pending.is_pending(upload)
        if kept and completing:
            return upload
        # Not finished at the deadline: it counts as withdrawn and its bytes go (EBM 27) — a
        # pending one is refused this request but keeps its bytes.
        with _refusing(actor, upload.lot, now, None if kept else upload):
            bid_rules.check_before_deadline(upload.lot.bid_deadline, now)
    return upload


NEXT_POLL_SECONDS = 0.005  # how often a PATCH waiting for the body before it looks again


def write_chunk(user, actor: Actor, upload_id, *, offset: int, length: int,
                read: Callable[[int], bytes], now: datetime) -> BidUpload:
    """Append one piece of the upload at ``offset`` (tus-like PATCH). Returns the upload with its
    new durable offset.

    A client may send its next body while the server writes the one before (docs/envelope.md,
    "Upload and storage"): a PATCH that starts past the durable offset, by at most one chunk, waits
    — up to ``BID_UPLOAD_NEXT_WAIT_SECONDS`` — for the offset to reach it (the body before may not
    even have reached its lock yet), and is then written like any other; if the offset does not
    come, ``upload_offset_mismatch`` with the durable offset. Only the durable offset is ever
    written, under the upload's lock.
    """
    upload = _open_upload(user, upload_id, actor, now)
    max_chunk = settings.BID_UPLOAD_MAX_CHUNK_BYTES
    wait = settings.BID_UPLOAD_NEXT_WAIT_SECONDS
    ahead = max_chunk if wait > 0 else 0
    bid_rules.check_chunk(offset=offset, expected_offset=upload.offset, length=length,
                          size=upload.size, max_chunk=max_chunk, ahead=ahead)
    # The lock may be held by the body before this one: wait for it too (``upload_busy`` only
    # once the time is up).
    wait_until = time.monotonic() + wait if wait > 0 else None
    while True:
        with _locked_partial(upload, wait_until) as fd:
            # Re-read under the file lock: a concurrent request may have moved the offset.
            upload.refresh_from_db(fields=["offset", "status"])
            if upload.status != BidUpload.Status.OPEN:
                raise PlatformError(ErrorCode.INVALID_STATE, f"the upload is {upload.status}",
                                    details={"status": upload.status})
            early = upload.offset < offset <= upload.offset + ahead
            if not early or time.monotonic() >= wait_until:
                bid_rules.check_chunk(offset=offset, expected_offset=upload.offset, length=length,
                                      size=upload.size, max_chunk=max_chunk)
                crash_point("patch-before-write")
                written = storage.append(fd, offset, read, length)
                crash_point("patch-after-write")
                upload.offset = offset + written
                BidUpload.objects.filter(pk=upload.pk, status=BidUpload.Status.OPEN).update(
                    offset=upload.offset, updated_at=now)
                return upload
        # The body before has not been written yet: leave it the lock, and look again.
        time.sleep(NEXT_POLL_SECONDS)


def abort_upload(user, actor: Actor, upload_id, *, now: datetime) -> None:
    upload = access_upload(user, upload_id)
    with storage.locked(storage.partial_path(upload.pk)), transaction.atomic():
        upload = access_upload(user, upload_id, for_update=True)
        if upload.status != BidUpload.Status.OPEN:
            return
        upload.status, upload.updated_at = BidUpload.Status.ABORTED, now
        upload.save(update_fields=["status", "updated_at"])
        log_action("bidding.bid.upload_aborted", actor=actor, obj=upload, tender_id=upload.lot_id,
                   now=now, data={"upload": str(upload.pk), "offset": upload.offset})
        storage.remove(storage.partial_path(upload.pk))


def complete_upload(user, actor: Actor, upload_id, *, now: datetime) -> tuple[BidSubmission, bool]:
    """Check the envelope, record it, store it durably, and return it with its receipt, and whether
    this call created it. Idempotent: completing a completed upload returns its submission (and
    finishes the file's move if a crash interrupted it), so a client that lost the answer asks
    again. Commit first, then move (``bidding.storage``): a crash at any step leaves either an open
    upload to complete again or a committed submission whose file a retry puts in place."""
    upload = access_upload(user, upload_id)
    if upload.status == BidUpload.Status.COMPLETE:
        return _completed(upload), False
    upload = _open_upload(user, upload_id, actor, now, completing=True)
    lot = upload.lot
    partial = storage.partial_path(upload.pk)
    with _locked_partial(upload), _refusing(actor, lot, now, upload):
        upload.refresh_from_db(fields=["offset", "status", "completion_requested_at", "completion_sha256"])
        if upload.status == BidUpload.Status.COMPLETE:  # a concurrent complete won the lock first
            return _completed(upload), False
        if upload.offset != upload.size:
            # Not a refusal: the client sends the rest and completes again.
            raise PlatformError(ErrorCode.UPLOAD_INCOMPLETE, "the upload is not complete",
                                details={"offset": upload.offset, "size": upload.size})
        expected = _expected(lot, upload.organisation, now)
        sha256, size = storage.sha256_of(partial)
        if upload.sha256 and sha256 != upload.sha256:
            raise PlatformError(ErrorCode.SHA256_MISMATCH, "the bytes received do not have the "
                                "SHA-256 announced", details={"sha256": sha256})
        received_at = pending.received_at(upload, sha256, now)  # a pending request's time
        try:
            with open(partial, "rb") as f:
                header = read_header(f)
        except InvalidEnvelope as exc:
            raise PlatformError(ErrorCode.INVALID_ENVELOPE, "not a sealed tender-envelope/v1 bid: "
                                f"{exc} (bids must be encrypted, 电子招标投标办法 26)") from None
        bid_rules.check_header(header, expected, envelope_size=size)
        submission_id = uuid.uuid4()
        relpath = storage.final_relpath(lot.pk, upload.organisation_id, submission_id)
        storage.sync(partial)  # durable before the receipt that the commit issues
        try:
            submission = _record(user, actor, upload, submission_id, relpath, header, sha256, size,
                                 expected, now, received_at)
        except SigningUnavailable as exc:
            # The receipt could not be signed (the platform's HSM): nothing was recorded and the
            # upload stays open with its bytes; the attempt itself is evidence, with its time, and
            # before the deadline it makes the completion pending (bidding/pending.py).
            pending.record_unsigned(user, actor, lot, upload, sha256, size, now, exc)
            raise
        crash_point("complete-after-commit-before-move")
        storage.place(partial, relpath)
        crash_point("after-move")
    return submission, True


def _completed(upload: BidUpload) -> BidSubmission:
    submission = BidSubmission.objects.get(upload=upload)
    storage.finish_placement(upload.pk, submission.path, submission.sha256)
    return submission


def _record(user, actor, upload, submission_id, relpath, header, sha256, size, expected, now, received_at):
    with transaction.atomic():
        lot = access_bid_lot(user, upload.lot_id, for_update=True)  # serialise with withdrawals
        locked = BidUpload.objects.select_for_update().get(pk=upload.pk)
        if locked.status != BidUpload.Status.OPEN:
            raise PlatformError(ErrorCode.INVALID_STATE, f"the upload is {locked.status}")
        check_can_bid(lot, received_at)  # a pending completion: in time when it was asked for
        submission = do_submit(user, actor, lot, locked, submission_id=submission_id,
                               relpath=relpath, header=header, sha256=sha256, size=size,
                               expected=expected, now=now, received_at=received_at)
        crash_point("complete-before-commit")
        return submission


def do_submit(user, actor, lot, upload, *, submission_id, relpath, header, sha256, size, expected,
              now, received_at=None) -> BidSubmission:
    """Record a stored envelope as the bidder's current bid. Assumes the lot row is locked, the
    envelope checked, and its bytes fsync'd (at ``relpath`` or still in the upload's partial file,
    which the caller moves there after the commit). ``received_at``: when every byte was in and
    completion was asked for (a pending completion's request, before the deadline; else ``now``,
    the signing time)."""
    received_at = received_at or now
    previous = (BidSubmission.objects.select_for_update()
                .filter(lot=lot, organisation_id=upload.organisation_id,
                        status=BidSubmission.Status.CURRENT).first())
    if previous is not None:
        previous.status = BidSubmission.Status.SUPERSEDED
        previous.save(update_fields=["status"])
        log_action("bidding.bid.replaced", actor=actor, obj=previous, tender_id=lot.pk, now=now,
                   data={"submission": str(previous.pk), "by": str(submission_id)})
    cert = current_certificate_for(lot, upload.organisation_id, now)  # the one ``expected`` names
    submission = BidSubmission(
        id=submission_id, lot=lot, organisation=upload.organisation, submitted_by=user, upload=upload,
        certificate=cert, sha256=sha256, size=size, commitment=header.commitment_b64,
        key_id=expected.bidder_key_id, escrow_key_id=expected.escrow_key_id or "", header=header.raw,
        path=relpath, received_at=received_at, audit_index=-1, receipt={})
    submission.save()
    upload.status, upload.updated_at = BidUpload.Status.COMPLETE, now
    upload.save(update_fields=["status", "updated_at"])
    # sequenced: the receipt carries the entry's index and its inclusion proof.
    entry = log_action("bidding.bid.submitted", actor=actor, obj=submission, tender_id=lot.pk, now=now,
                       data={"submission": str(submission.pk), "organisation": upload.organisation_id,
                             "sha256": sha256, "size": size, "commitment": submission.commitment,
                             "key_id": submission.key_id, "replaces": str(previous.pk) if previous else None,
                             "certificate": cert.serial, "user_agent": actor.user_agent,
                             "cipher_suite": lot.cipher_suite,
                             "requested_at": format_time(received_at), "signed_at": format_time(now)},
                       sequenced=True)
    submission.audit_index = entry.index
    submission.receipt = issue_receipt(submission, entry, now=now)
    submission.save(update_fields=["audit_index", "receipt"])
    return submission


def withdraw(user, actor: Actor, lot_id: int, *, now: datetime) -> BidSubmission:
    """Withdraw the current bid (撤回) before the deadline. The file stays on disk, marked."""
    lot = access_bid_lot(user, lot_id)
    with _refusing(actor, lot, now):  # outside the transaction, so the refusal's entry stays
        check_can_bid(lot, now)
    with transaction.atomic():
        lot = access_bid_lot(user, lot_id, for_update=True)
        submission = access_submission(user, lot_id)
        submission.status, submission.withdrawn_at = BidSubmission.Status.WITHDRAWN, now
        submission.save(update_fields=["status", "withdrawn_at"])
        log_action("bidding.bid.withdrawn", actor=actor, obj=submission, tender_id=lot.pk, now=now,
                   data={"submission": str(submission.pk), "organisation": submission.organisation_id})
    return submission


def expire_uploads(now: datetime) -> int:
    """Void every upload still open at its lot's deadline (it counts as withdrawn) and remove its
    bytes, except a pending completion's (kept, audited: ``bidding.pending``); finish the move of
    every submission a crash left in its partial file. Run by the ticker or before the opening;
    also applied lazily on each request. An upload whose lock a request holds (a ``complete``
    begun before the deadline may be recording it pending) is left for the next run: the opening
    waits for it (``pending.check_none_pending``)."""
    from .sweep import finish_placements

    finish_placements(now)
    pending.keep_pending(now)
    count = 0
    stale = (BidUpload.objects.filter(status=BidUpload.Status.OPEN, lot__bid_deadline__lte=now)
             .exclude(pk__in=pending.pending_uploads().values("pk")))
    for upload in stale.select_related("lot"):
        try:
            with _void_locked(upload):
                with transaction.atomic():
                    if not BidUpload.objects.filter(pk=upload.pk, status=BidUpload.Status.OPEN).exclude(
                            pk__in=pending.pending_uploads().values("pk")).update(
                            status=BidUpload.Status.ABORTED, updated_at=now):
                        continue
                    log_action("bidding.bid.upload_expired", actor=Actor.system(), obj=upload,
                               tender_id=upload.lot_id, now=now,
                               data={"upload": str(upload.pk), "offset": upload.offset})
                storage.remove(storage.partial_path(upload.pk))
        except PlatformError as exc:
            if exc.code not in (ErrorCode.UPLOAD_BUSY, ErrorCode.NOT_FOUND):
                raise
            continue  # a request holds it (or its file went as we looked): next run
        count += 1
    return count


def _void_locked(upload: BidUpload):
    """The upload's lock, taken at once or ``upload_busy``; nothing to lock if its bytes are gone."""
    from contextlib import nullcontext

    partial = storage.partial_path(upload.pk)
    return storage.locked(partial) if partial.exists() else nullcontext()
