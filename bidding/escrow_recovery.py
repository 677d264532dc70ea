"""The backup window of the "shares" scheme (tender-envelope/v3 and /v2; docs/opening.md, "Backup
decryption"): one recovery per bid, opened by the host for a recorded reason; each custodian's
client unwraps its share of that one bid on its own machine and releases it; k releases make that
bid's file key and no other.

The backup window for a bid is: its opening is decrypting (after the deadline, before the
decryption window closes), the bid is still pending, and a recovery is open for it. Outside it a
custodian can neither fetch what it needs nor release, and every refusal is audited. Released
shares are kept (fewer than k reveal nothing of the key) until the bid is recovered, then erased;
their SHA-256 stays in the audit log. A recovery whose window ends first lapses (the ticker's
``bidding.escrow.recovery`` timer at the window's end): its released shares are erased too.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from datetime import datetime

from django.db import transaction

from audit.log import log_action
from bidding.access import access_lot
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, NotFound, PlatformError
from crypto import envelope, escrow_shares, keys

from .escrow import RECOVERY_REASONS
from .models import EscrowKey, EscrowRecovery, EscrowRelease, EscrowShare, OpeningBid
from .phases import Phase


def _refused(actor: Actor, lot_id: int, error: PlatformError, now: datetime, **data) -> PlatformError:
    with transaction.atomic():
        log_action("bidding.escrow.refused", actor=actor, object_type="bidding.lot", object_id=lot_id,
                   tender_id=lot_id, now=now,
                   data={"code": error.code.value, "message": error.message, **data})
    return error


def _uuid(value) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise NotFound("not found", why="not a uuid") from None


def _opening_bid(lot_id: int, submission_id) -> OpeningBid:
    submission_id = _uuid(submission_id)
    ob = (OpeningBid.objects.select_related("opening", "opening__lot", "opening__lot__project",
                                            "submission", "organisation")
          .filter(opening__lot_id=lot_id, submission_id=submission_id).first())
    if ob is None:
        raise NotFound("no such bid in this opening")
    return ob


def in_window(ob: OpeningBid, now: datetime) -> bool:
    """The bid's backup window, without the recovery: decrypting, before the window's end, pending."""
    op = ob.opening
    return (op.phase == Phase.DECRYPTING and now >= op.lot.bid_deadline
            and (op.decryption_ends_at is None or now < op.decryption_ends_at)
            and ob.status == OpeningBid.Status.PENDING)


def _check_window(recovery: EscrowRecovery, ob: OpeningBid, now: datetime) -> None:
    if recovery.status != EscrowRecovery.Status.OPEN or not in_window(ob, now):
        raise PlatformError(ErrorCode.ESCROW_WINDOW_CLOSED,
                            "this bid is not in its backup window: shares are released only while "
                            "the opening decrypts, for a pending bid with an open recovery")


def _header(submission) -> envelope.EnvelopeHeader:
    return envelope.read_header(io.BytesIO(bytes(submission.header)))


def open_recovery(user, actor: Actor, lot_id: int, *, submission_id, reason: str, note: str = "",
                  now: datetime) -> EscrowRecovery:
    """The host opens the backup window of one bid whose owner could not decrypt it, for a reason
    outside the bidder's control (``RECOVERY_REASONS``)."""
    lot = access_lot(user, lot_id, manage=True)
    try:
        if reason not in RECOVERY_REASONS:
            raise BadRequest("backup decryption is only for causes outside the bidder's control",
                             details={"allowed": sorted(RECOVERY_REASONS)})
        ob = _opening_bid(lot.pk, submission_id)
        if not in_window(ob, now):
            raise PlatformError(ErrorCode.ESCROW_WINDOW_CLOSED, "backup decryption is for a pending bid "
                                "while the opening decrypts")
        escrow = EscrowKey.objects.filter(lot=lot, scheme=EscrowKey.Scheme.SHARES).first()
        if escrow is None or not _header(ob.submission).shares:
            raise PlatformError(ErrorCode.INVALID_STATE, "this bid carries no custodians' shares")
        with transaction.atomic():
            if EscrowRecovery.objects.select_for_update().filter(
                    submission=ob.submission, status=EscrowRecovery.Status.OPEN).exists():
                raise PlatformError(ErrorCode.CONFLICT, "a recovery is already open for this bid")
            recovery = EscrowRecovery.objects.create(lot=lot, submission=ob.submission, reason=reason,
                                                     note=note[:500], opened_by=user, opened_at=now,
                                                     next_check=ob.opening.decryption_ends_at)
            log_action("bidding.escrow.recovery_opened", actor=actor, obj=recovery, tender_id=lot.pk,
                       now=now, data={"recovery": str(recovery.pk), "submission": str(ob.submission_id),
                                      "organisation": ob.organisation_id, "reason": reason,
                                      "note": note[:500], "threshold": escrow.threshold})
    except PlatformError as exc:
        raise _refused(actor, lot.pk, exc, now, submission=str(submission_id), step="open") from None
    return recovery


def _custodian_share(user, lot_id: int) -> EscrowShare:
    share = (EscrowShare.objects.select_related("escrow", "custodian")
             .filter(escrow__lot_id=lot_id, escrow__scheme=EscrowKey.Scheme.SHARES,
                     custodian__user_id=getattr(user, "pk", None)).first())
    if share is None:
        raise NotFound("not found", why="not a custodian of this tender")
    return share


def _recovery(lot_id: int, recovery_id, *, lock: bool = False) -> EscrowRecovery:
    qs = EscrowRecovery.objects.filter(lot_id=lot_id, pk=_uuid(recovery_id))
    recovery = (qs.select_for_update() if lock else qs).first()
    if recovery is None:
        raise NotFound("no such recovery")
    return recovery


def recovery_json(recovery: EscrowRecovery) -> dict:
    escrow = EscrowKey.objects.get(lot_id=recovery.lot_id)
    return {"id": str(recovery.pk), "submission": str(recovery.submission_id), "reason": recovery.reason,
            "note": recovery.note, "status": recovery.status, "threshold": escrow.threshold,
            "count": escrow.count, "released": sorted(recovery.releases.values_list("index", flat=True)),
            "opened_at": recovery.opened_at.isoformat()}


def custodian_recoveries(user, now: datetime) -> list[dict]:
    """The open recoveries, in their window, of tenders the caller is a custodian of."""
    lots = EscrowShare.objects.filter(custodian__user_id=user.pk, escrow__scheme=EscrowKey.Scheme.SHARES
                                      ).values_list("escrow__lot_id", flat=True)
    out = []
    for recovery in EscrowRecovery.objects.filter(lot_id__in=list(lots), status=EscrowRecovery.Status.OPEN):
        ob = _opening_bid(recovery.lot_id, recovery.submission_id)
        if in_window(ob, now):
            out.append({"lot": recovery.lot_id, **recovery_json(recovery)})
    return out


def custodian_context(user, actor: Actor, lot_id: int, recovery_id, *, now: datetime) -> dict:
    """What the custodian's client needs to unwrap its share of this one bid: the envelope header
    (public bytes) and its index. Refused outside the bid's backup window."""
    share = _custodian_share(user, lot_id)
    recovery = _recovery(lot_id, recovery_id)
    ob = _opening_bid(lot_id, recovery.submission_id)
    try:
        _check_window(recovery, ob, now)
    except PlatformError as exc:
        raise _refused(actor, lot_id, exc, now, recovery=str(recovery.pk), step="fetch",
                       custodian=user.pk) from None
    return {**recovery_json(recovery), "index": share.index, "key_id": share.key_id,
            "header": keys.b64encode(bytes(ob.submission.header)), "commitment": ob.submission.commitment,
            "tender": ob.opening.lot.project.code, "lot": ob.opening.lot.code,
            "bidder": ob.organisation.credit_code}


MAX_SHARE_TEXT = 856  # padded base64 of the largest share: 640 bytes (v3, 4-of-7)


def decode_share(text) -> bytes:
    """A share's bytes from base64, padded or not (docs/opening.md: both are accepted). Its size is
    checked against the bid's envelope when it is released (``escrow_shares.share_size``)."""
    if not isinstance(text, str) or not 0 < len(text) <= MAX_SHARE_TEXT:
        raise BadRequest("share is the base64 of the share's bytes")
    try:
        return keys.b64decode_lenient(text)
    except ValueError:
        raise BadRequest("share is the base64 of the share's bytes") from None


def release_share(user, actor: Actor, lot_id: int, recovery_id, *, index: int, share: str,
                  now: datetime) -> dict:
    """A custodian releases its unwrapped share of the recovery's bid. With k releases the bid's
    file key is made, checked against the envelope's commitment, and the bid is decrypted."""
    value = decode_share(share)
    mine = _custodian_share(user, lot_id)
    digest = hashlib.sha256(value).hexdigest()
    try:
        if index != mine.index:
            raise PlatformError(ErrorCode.ESCROW_SHARE_INVALID, "this is not your share index",
                                details={"index": mine.index})
        with transaction.atomic():
            recovery = _recovery(lot_id, recovery_id, lock=True)
            ob = _opening_bid(lot_id, recovery.submission_id)
            _check_window(recovery, ob, now)
            size = escrow_shares.share_size(_header(ob.submission))
            if len(value) != size:
                raise PlatformError(ErrorCode.ESCROW_SHARE_INVALID, f"a share of this bid is {size} bytes",
                                    details={"size": size})
            if recovery.releases.filter(custodian=mine.custodian).exists():
                raise PlatformError(ErrorCode.CONFLICT, "you have released your share of this bid")
            EscrowRelease.objects.create(recovery=recovery, custodian=mine.custodian, index=mine.index,
                                         share=value, share_sha256=digest, released_at=now)
            log_action("bidding.escrow.share_released", actor=actor, obj=recovery, tender_id=lot_id, now=now,
                       data={"recovery": str(recovery.pk), "submission": str(recovery.submission_id),
                             "custodian": user.pk, "index": mine.index, "share_sha256": digest})
    except PlatformError as exc:
        raise _refused(actor, lot_id, exc, now, recovery=str(recovery_id), step="release",
                       custodian=user.pk, index=index) from None
    return _maybe_recover(recovery, ob, actor=actor, now=now)


def _maybe_recover(recovery: EscrowRecovery, ob: OpeningBid, *, actor: Actor, now: datetime) -> dict:
    from .opening.decryption import decrypt_recovered

    releases = list(recovery.releases.all())
    escrow = EscrowKey.objects.get(lot_id=recovery.lot_id)
    if len(releases) < escrow.threshold:
        return recovery_json(recovery)
    try:
        file_key = escrow_shares.recover_file_key(
            _header(ob.submission), [escrow_shares.Share(r.index, bytes(r.share)) for r in releases])
    except envelope.InvalidEnvelope:
        error = PlatformError(ErrorCode.ESCROW_SHARE_INVALID, "the released shares do not make this "
                              "bid's committed key; the other custodians may release theirs")
        _refused(actor, recovery.lot_id, error, now, recovery=str(recovery.pk), step="combine",
                 indices=sorted(r.index for r in releases))
        return {**recovery_json(recovery), "problem": error.code.value}
    result = decrypt_recovered(ob, file_key, actor=actor, now=now)
    with transaction.atomic():
        locked = _recovery(recovery.lot_id, recovery.pk, lock=True)
        if locked.status == EscrowRecovery.Status.OPEN:
            locked.status, locked.recovered_at = EscrowRecovery.Status.RECOVERED, now
            locked.save(update_fields=["status", "recovered_at"])
            locked.releases.update(share=b"")  # k shares of one bid: erased once used
            log_action("bidding.escrow.recovered", actor=actor, obj=ob.submission, tender_id=recovery.lot_id,
                       now=now, data={"submission": str(ob.submission_id), "recovery": str(recovery.pk),
                                      "reason": recovery.reason, "note": recovery.note,
                                      "custodians": sorted(r.custodian.user_id for r in releases)})
    return {**recovery_json(locked), "bid": result}


def lapse_recovery(recovery: EscrowRecovery, now: datetime) -> None:
    """Timer callback (row locked): at the end of the bid's window an open recovery lapses and its
    released shares are erased; one whose window goes on is checked again at its new end."""
    recovery.next_check = None
    if recovery.status == EscrowRecovery.Status.OPEN:
        ob = _opening_bid(recovery.lot_id, recovery.submission_id)
        if in_window(ob, now):
            recovery.next_check = ob.opening.decryption_ends_at
        else:
            recovery.status = EscrowRecovery.Status.LAPSED
            erased = recovery.releases.exclude(share=b"").update(share=b"")
            log_action("bidding.escrow.recovery_lapsed", actor=Actor.system("ticker"), obj=recovery,
                       tender_id=recovery.lot_id, now=now,
                       data={"recovery": str(recovery.pk), "submission": str(recovery.submission_id),
                             "old_status": "open", "new_status": "lapsed", "shares_erased": erased,
                             "bid_status": ob.status})
    recovery.save(update_fields=["status", "next_check"])


def register() -> None:
    from realtime.timers import register_timer

    register_timer("bidding.escrow.recovery", EscrowRecovery, lapse_recovery, status="open")
