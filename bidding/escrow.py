"""Backup decryption (备用解密, 电子招标投标办法 31): who may be a custodian, a tender's custodians and
threshold, and (for set-ups made before v2) the recovery with a dealt escrow key.

Scheme "shares" (every new set-up, docs/opening.md "Backup decryption"): there is no escrow key.
Each custodian makes its own key pair on its own machine (``sealbid custodian keygen``) and
registers only the public key; the tender names its custodians and a threshold; each bidder's
sealer splits its own file key among them inside the envelope (``tender-envelope/v3``, which the
browser writes; ``/v2`` from older sealers, and for set-ups made with 8 to 10 custodians before v3).
Releases happen in the backup window, one bid at a time (``bidding.escrow_recovery``).

Scheme "dealer" (read only): the platform once made an escrow key pair and dealt its private half
as shares sealed to the custodians; ``recover_file_key_with_escrow`` still opens the v1 envelopes
sealed to such a key. No new dealer set-up is made. Every step, and every refusal, is audited.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from django.db import transaction
from django.utils.translation import gettext as _

from audit.log import log_action
from bidding.access import access_lot
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError
from crypto import envelope, gm, keys, shamir

from .lifecycle import Status as LotStatus
from .models import BidSubmission, Custodian, EscrowKey, EscrowShare

# Causes outside the bidder's control (EBM 31: "因非投标人原因"); a bidder's own failure (a lost key,
# a forgotten password) is not one: that bid counts as revoked.
RECOVERY_REASONS = frozenset({"platform_failure", "ca_failure", "network_outage", "power_outage",
                              "force_majeure"})
# Who may hold a share of other parties' bids' file keys (docs/opening.md, "Custodians").
CUSTODIAN_ROLES = frozenset({"admin", "host", "supervisor", "venue_staff"})


def _not_a_custodian(role: str) -> str:
    """Why a role may not be a custodian, in the request's language."""
    if role == "bidder":
        return _("a bidder may not be a custodian: its share would open its competitors' bids")
    if role == "expert":
        return _("an expert may not be a custodian: experts evaluate the opened bids, and their names "
                 "stay confidential while custodians are named to every bidder")
    return _("this role may not be a custodian")


def register_custodian(user, actor: Actor, *, public_key: bytes, now: datetime, suite: str = "intl") -> Custodian:
    """A custodian registers (or replaces) its public key of ``suite`` (a P-256 point for ``intl``
    tenders, an SM2 point for ``gm`` ones); the private key never leaves its machine. Set-ups
    already made keep the key they were made with (``EscrowShare.public_key``)."""
    if user.role not in CUSTODIAN_ROLES:
        raise PlatformError(ErrorCode.FORBIDDEN, _not_a_custodian(user.role), details={"role": user.role})
    if suite == "gm":
        try:
            key_id = gm.SM2PublicKey(bytes(public_key)).key_id
        except gm.SM2Error:
            raise BadRequest("public_key is a 65-byte uncompressed SM2 point on the curve") from None
        fields = {"sm2_public_key": bytes(public_key), "sm2_key_id": key_id}
    else:
        try:
            key_id = keys.key_id(keys.load_public_key_bytes(public_key))
        except ValueError:
            raise BadRequest("public_key is a 65-byte uncompressed P-256 point") from None
        fields = {"public_key": bytes(public_key), "key_id": key_id}
    with transaction.atomic():
        old = Custodian.objects.filter(user=user).first()
        old_key_id = (old.sm2_key_id if suite == "gm" else old.key_id) if old else None
        empty = {} if old else {"public_key": b"", "key_id": "", "sm2_public_key": b"", "sm2_key_id": ""}
        custodian, _created = Custodian.objects.update_or_create(
            user=user, defaults={**empty, **fields, "active": True, "created_at": now})
        log_action("bidding.escrow.custodian_registered", actor=actor, obj=custodian, now=now,
                   data={"user": user.pk, "key_id": key_id, "suite": suite, "old_key_id": old_key_id or None})
    return custodian


def custodian_key(custodian: Custodian, suite: str) -> tuple[bytes, str]:
    """(public key, key id) a custodian registered for ``suite``; empty if it has none."""
    if suite == "gm":
        return bytes(custodian.sm2_public_key or b""), custodian.sm2_key_id
    return bytes(custodian.public_key or b""), custodian.key_id


def provision_escrow(user, actor: Actor, lot_id: int, *, custodian_user_ids: Sequence[int],
                     threshold: int, now: datetime) -> EscrowKey:
    """Name the lot's custodians (in share-index order) and the threshold; no key is made. Bidders
    seal to these custodians' keys as registered now. Allowed before any bid exists (a draft, or a
    published lot before its deadline)."""
    ids = list(dict.fromkeys(custodian_user_ids))
    # At most 7: every bidder can then seal in the browser (tender-envelope/v3, docs/envelope.md).
    if (len(ids) != len(custodian_user_ids)
            or not envelope.MIN_THRESHOLD <= threshold <= len(ids) <= envelope.MAX_CUSTODIANS_V3):
        raise BadRequest(f"name {envelope.MIN_THRESHOLD} to {envelope.MAX_CUSTODIANS_V3} distinct custodians "
                         f"and a threshold from {envelope.MIN_THRESHOLD} to their number",
                         details={"min_threshold": envelope.MIN_THRESHOLD,
                                  "max_custodians": envelope.MAX_CUSTODIANS_V3})
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        if not lot.escrow_required:
            raise PlatformError(ErrorCode.INVALID_STATE, "this tender does not require backup decryption")
        if lot.status not in (LotStatus.DRAFT, LotStatus.PUBLISHED) or now >= lot.bid_deadline:
            raise PlatformError(ErrorCode.INVALID_STATE, "custodians are named before the deadline")
        if EscrowKey.objects.filter(lot=lot).exists() or BidSubmission.objects.filter(lot=lot).exists():
            raise PlatformError(ErrorCode.CONFLICT, "this tender already has its custodians")
        suite = lot.cipher_suite  # gm: the custodians' SM2 keys, for gm-v1's sm2-share stanzas
        custodians = [c for c in Custodian.objects.select_related("user").filter(user_id__in=ids, active=True)
                      if custodian_key(c, suite)[1]]
        if len(custodians) != len(ids):
            raise BadRequest("every custodian must have registered a key" + (" (an SM2 key, for this gm tender)"
                                                                             if suite == "gm" else ""),
                             details={"missing": sorted(set(ids) - {c.user_id for c in custodians}),
                                      "suite": suite})
        wrong = sorted(c.user_id for c in custodians if c.user.role not in CUSTODIAN_ROLES)
        if wrong:  # a user whose role changed since it registered
            raise BadRequest("these users' roles may not be custodians", details={"users": wrong})
        custodians.sort(key=lambda c: ids.index(c.user_id))
        if len({custodian_key(c, suite)[1] for c in custodians}) != len(custodians):
            raise BadRequest("two custodians registered the same key")
        escrow = EscrowKey.objects.create(lot=lot, scheme=EscrowKey.Scheme.SHARES, threshold=threshold,
                                          count=len(custodians), created_at=now)
        for index, custodian in enumerate(custodians, start=1):
            public_key, key_id = custodian_key(custodian, suite)
            EscrowShare.objects.create(escrow=escrow, custodian=custodian, index=index,
                                       public_key=public_key, key_id=key_id)
        log_action("bidding.escrow.provisioned", actor=actor, obj=escrow, tender_id=lot.pk, now=now,
                   data={"scheme": escrow.scheme, "threshold": threshold, "suite": suite,
                         "custodians": [{"user": c.user_id, "index": i, "key_id": custodian_key(c, suite)[1]}
                                        for i, c in enumerate(custodians, start=1)]})
    return escrow


def escrow_json(escrow: EscrowKey) -> dict:
    """What a bidder's sealer needs (``GET /lots/{id}/escrow``, docs/opening.md)."""
    if escrow.scheme == EscrowKey.Scheme.DEALER:
        return {"scheme": "dealer", "key_id": escrow.key_id, "public_key": keys.b64encode(bytes(escrow.public_key)),
                "threshold": escrow.threshold, "count": escrow.count}
    shares = escrow.shares.order_by("index")
    # v3 unless the set-up predates its bound of 7 custodians (those bidders seal v2 with sealbid);
    # a gm tender's bidders seal gm-v1 (Shamir shares, SM2-wrapped: docs/envelope.md, Appendix D)
    suite = escrow.lot.cipher_suite
    version = (envelope.FORMAT_GM if suite == "gm" else
               envelope.FORMAT_V3 if escrow.count <= envelope.MAX_CUSTODIANS_V3 else envelope.FORMAT_V2)
    return {"scheme": "shares", "envelope": version, "suite": suite, "threshold": escrow.threshold,
            "count": escrow.count,
            "custodians": [{"index": s.index, "key_id": s.key_id,
                            "public_key": keys.b64encode(bytes(s.public_key))} for s in shares]}


def _tender(lot) -> str:
    return f"{lot.project.code}/{lot.code}"


def dealt_share(share: EscrowShare, actor: Actor, *, now: datetime) -> dict:
    """What a custodian's tool needs to open its dealt share (``crypto.shamir.open_share``): dealer
    scheme only, and only in the backup window (the lot's opening decrypting). A refusal is audited."""
    from .models import Opening
    from .phases import Phase

    lot_id = share.escrow.lot_id
    try:
        if share.escrow.scheme != EscrowKey.Scheme.DEALER:
            raise PlatformError(ErrorCode.INVALID_STATE, "this tender's custodians release shares per bid, "
                                "in its recoveries")
        op = Opening.objects.filter(lot_id=lot_id).first()
        if (op is None or op.phase != Phase.DECRYPTING
                or (op.decryption_ends_at is not None and now >= op.decryption_ends_at)):
            raise PlatformError(ErrorCode.ESCROW_WINDOW_CLOSED, "shares are released only in the backup window")
    except PlatformError as exc:
        raise _refuse(actor, None, lot_id, exc, now) from None
    with transaction.atomic():
        log_action("bidding.escrow.share_released", actor=actor, obj=share.escrow, tender_id=lot_id, now=now,
                   data={"scheme": "dealer", "custodian": share.custodian.user_id, "index": share.index})
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
    """Dealer scheme (v1 envelopes): recover a bid's file key from its ``escrow`` stanza, with the opened shares of at least
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
        escrow = EscrowKey.objects.filter(lot=lot, scheme=EscrowKey.Scheme.DEALER).first()
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


