"""Backup decryption (备用解密, 电子招标投标办法 31): a tender's escrow key, split k-of-n among
named custodians, and its use after the deadline for a bid its owner could not decrypt.

The escrow private key exists only in memory, while it is split at provisioning and while it is
recombined for a recovery; no row or file ever holds it (``tests/bidding/test_escrow.py`` scans
for it). Each custodian's share is sealed to the custodian's own P-256 key (``crypto.shamir``).
Every step, and every refused attempt, is audited.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction

from audit.log import log_action
from bidding.access import access_lot
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError
from crypto import envelope, keys, shamir

from .lifecycle import Status as LotStatus
from .models import BidSubmission, Custodian, EscrowKey, EscrowShare

# Causes outside the bidder's control (EBM 31: "因非投标人原因"); a bidder's own failure (a lost key,
# a forgotten password) is not one: that bid counts as revoked.
RECOVERY_REASONS = frozenset({"platform_failure", "ca_failure", "network_outage", "power_outage",
                              "force_majeure"})
CUSTODIAN_ROLES = frozenset({"admin", "host", "supervisor", "venue_staff"})


def register_custodian(user, actor: Actor, *, public_key: bytes, now: datetime) -> Custodian:
    """A custodian registers (or replaces) the public key its shares are sealed to. Shares already
    sealed stay sealed to the old key."""
    if user.role not in CUSTODIAN_ROLES:
        raise PlatformError(ErrorCode.FORBIDDEN, "bidders cannot hold escrow shares")
    try:
        key = keys.load_public_key_bytes(public_key)
    except ValueError:
        raise BadRequest("public_key is a 65-byte uncompressed P-256 point") from None
    with transaction.atomic():
        custodian, _ = Custodian.objects.update_or_create(
            user=user, defaults={"public_key": public_key, "key_id": keys.key_id(key), "active": True,
                                 "created_at": now})
        log_action("bidding.escrow.custodian_registered", actor=actor, obj=custodian, now=now,
                   data={"user": user.pk, "key_id": custodian.key_id})
    return custodian


def provision_escrow(user, actor: Actor, lot_id: int, *, custodian_user_ids: Sequence[int],
                     threshold: int, now: datetime) -> EscrowKey:
    """Make the lot's escrow key pair, split the private key among the custodians, seal each share
    to its custodian, and forget the private key. Allowed before any bid exists (a draft, or a
    published lot before its deadline); called at publication of a tender that requires escrow."""
    ids = list(dict.fromkeys(custodian_user_ids))
    if len(ids) != len(custodian_user_ids) or not 1 <= threshold <= len(ids) <= shamir.MAX_SHARES:
        raise BadRequest("name distinct custodians, and a threshold from 1 to their number")
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        if not lot.escrow_required:
            raise PlatformError(ErrorCode.INVALID_STATE, "this tender does not require backup decryption")
        if lot.status not in (LotStatus.DRAFT, LotStatus.PUBLISHED) or now >= lot.bid_deadline:
            raise PlatformError(ErrorCode.INVALID_STATE, "the escrow key is set up before the deadline")
        if EscrowKey.objects.filter(lot=lot).exists() or BidSubmission.objects.filter(lot=lot).exists():
            raise PlatformError(ErrorCode.CONFLICT, "this tender already has its escrow key")
        custodians = list(Custodian.objects.select_related("user").filter(user_id__in=ids, active=True))
        if len(custodians) != len(ids):
            raise BadRequest("every custodian must have registered a key",
                             details={"missing": sorted(set(ids) - {c.user_id for c in custodians})})
        custodians.sort(key=lambda c: ids.index(c.user_id))
        private_key = keys.generate_bidder_key()
        public_key = private_key.public_key()
        key_id = keys.key_id(public_key)
        try:
            shares = shamir.split_private_key(private_key, threshold, len(custodians))
        finally:
            del private_key  # the only reference: nothing below may keep it
        escrow = EscrowKey.objects.create(lot=lot, public_key=keys.public_key_to_bytes(public_key),
                                          key_id=key_id, threshold=threshold, count=len(custodians),
                                          created_at=now)
        for custodian, share in zip(custodians, shares):
            sealed = shamir.seal_share(share, keys.load_public_key_bytes(bytes(custodian.public_key)),
                                       tender=_tender(lot), escrow_key_id=key_id)
            EscrowShare.objects.create(escrow=escrow, custodian=custodian, index=share.index, sealed=sealed)
        shares.clear()
        log_action("bidding.escrow.provisioned", actor=actor, obj=escrow, tender_id=lot.pk, now=now,
                   data={"key_id": key_id, "threshold": threshold,
                         "custodians": [c.user_id for c in custodians]})
    return escrow


def _tender(lot) -> str:
    return f"{lot.project.code}/{lot.code}"


def share_context(share: EscrowShare) -> dict:
    """What a custodian's tool needs to open its sealed share (``crypto.shamir.open_share``)."""
    return {"tender": _tender(share.escrow.lot), "escrow_key_id": share.escrow.key_id,
            "index": share.index, "sealed": keys.b64encode(bytes(share.sealed)),
            "threshold": share.escrow.threshold}


def _refuse(actor: Actor, submission: BidSubmission | None, lot_id: int, error: PlatformError,
            now: datetime) -> PlatformError:
    with transaction.atomic():
        log_action("bidding.escrow.refused", actor=actor, object_type="bidding.lot", object_id=lot_id,
                   tender_id=lot_id, now=now,
                   data={"code": error.code.value, "message": error.message,
                         "submission": str(submission.pk) if submission else None})
    return error


def recover_file_key_with_escrow(user, actor: Actor, submission_id, *,
                                 shares: Sequence[tuple[int, shamir.Share]], reason: str, note: str = "",
                                 now: datetime) -> bytes:
    """Recover a bid's file key from its ``escrow`` stanza, with the opened shares of at least
    ``threshold`` custodians (``(custodian user id, Share)`` pairs, gathered at the opening).

    Only a manager of the tender, only after the deadline, only for a current bid carrying the
    escrow stanza, only for a reason outside the bidder's control. The key is verified against the
    envelope's commitment before it is returned. Every refusal is audited.
    """
    submission = (BidSubmission.objects.select_related("lot", "lot__project", "lot__escrow")
                  .filter(pk=submission_id).first())
    if submission is None:
        raise PlatformError(ErrorCode.NOT_FOUND, "submission not found")
    lot = access_lot(user, submission.lot_id, manage=True)
    try:
        if now < lot.bid_deadline:
            raise PlatformError(ErrorCode.DEADLINE_NOT_REACHED, "no backup decryption before the deadline")
        if reason not in RECOVERY_REASONS:
            raise BadRequest("backup decryption is only for causes outside the bidder's control",
                             details={"allowed": sorted(RECOVERY_REASONS)})
        escrow = EscrowKey.objects.filter(lot=lot).first()
        if (escrow is None or submission.status != BidSubmission.Status.CURRENT
                or submission.escrow_key_id != escrow.key_id):
            raise PlatformError(ErrorCode.INVALID_STATE, "this bid has no escrow recipient")
        holders = {s.custodian.user_id: s.index for s in escrow.shares.select_related("custodian")}
        given = [(uid, share) for uid, share in shares if holders.get(uid) == share.index]
        if len(given) != len(shares) or len({uid for uid, _ in given}) != len(given):
            raise PlatformError(ErrorCode.ESCROW_SHARE_INVALID,
                                "a share does not belong to its custodian, or is given twice")
        if len(given) < escrow.threshold:
            raise PlatformError(ErrorCode.ESCROW_THRESHOLD_NOT_MET,
                                f"{escrow.threshold} custodians are needed, {len(given)} took part")
        try:
            private_key = shamir.combine_private_key([s for _, s in given], escrow.threshold,
                                                     keys.load_public_key_bytes(bytes(escrow.public_key)))
        except shamir.ShareError:
            raise PlatformError(ErrorCode.ESCROW_SHARE_INVALID, "the shares do not make the escrow key")
        header = envelope.read_header(io.BytesIO(bytes(submission.header)))
        try:
            file_key = envelope.unwrap_file_key(header, private_key, role="escrow")
        except envelope.InvalidEnvelope:
            raise PlatformError(ErrorCode.INVALID_ENVELOPE, "the escrow stanza does not open to the "
                                "envelope's committed key") from None
        finally:
            del private_key
    except PlatformError as exc:
        raise _refuse(actor, submission, lot.pk, exc, now) from None
    with transaction.atomic():
        log_action("bidding.escrow.recovered", actor=actor, obj=submission, tender_id=lot.pk, now=now,
                   data={"submission": str(submission.pk), "reason": reason, "note": note[:500],
                         "custodians": sorted(uid for uid, _ in given)})
    return file_key


