"""Where 清标 gets its bills: the tender's own bill, which the host files with the tender while it is
a draft, and each bid's priced bill, read from the decrypted bid package.

The tender's ``bill_layout`` names the bill's document in the package (``document``, e.g.
``"工程量清单.xlsx"`` for ``documents/工程量清单.xlsx``; docs/evaluation.md, docs/sealbid.md). When the
bill check runs, every valid bid without a ``BidBill`` row gets one from its package
(``bidding.opening.documents.read_document``: the bytes are checked against the SHA-256 the
package's manifest lists, which was sealed and receipted with the bid), and the row is what the
report's hash refers to. A bid whose package lacks the document, or whose document fails its hash,
is reported to the committee by reason, never guessed.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from django.db import transaction

from audit.log import log_action
from bidding.access import access_lot
from bidding.lifecycle import Status as LotStatus
from bidding.opening.documents import read_document
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError

from .bill_reader import MAX_BILL_BYTES, read_tender_bill
from .models import BidBill
from .rules import bills
from .rules.settings import validate_evaluation_settings


def store_tender_bill(user, actor: Actor, lot_id: int, data: bytes, *, now: datetime) -> dict:
    """The host files (or replaces) the tender's bill while the tender is a draft: the bill is one of
    the tender documents published with it, changed afterwards only by an amendment. It must read
    under the tender's declared layout."""
    if not isinstance(data, (bytes, bytearray)) or not data:
        raise BadRequest("send the tender's bill (xlsx) as the request body")
    if len(data) > MAX_BILL_BYTES:
        raise PlatformError(ErrorCode.BAD_REQUEST, "the bill is larger than 64 MiB",
                            details={"code": "bill_too_large", "limit": MAX_BILL_BYTES})
    with transaction.atomic():
        lot = access_lot(user, lot_id, manage=True, for_update=True)
        if lot.status != LotStatus.DRAFT:
            raise PlatformError(ErrorCode.INVALID_STATE, "the tender's bill is filed while the tender is a "
                                "draft; after publication it changes only by an amendment")
        raw_layout = validate_evaluation_settings(lot.evaluation_settings or {}).get("bill_layout")
        if raw_layout is None:
            raise PlatformError(ErrorCode.INVALID_STATE, "the tender declares no bill layout")
        index = read_tender_bill(bytes(data), bills.parse_layout(raw_layout))  # BillUnreadable: 400
        digest = hashlib.sha256(data).hexdigest()
        old = BidBill.objects.filter(lot=lot, bidder_org__isnull=True).first()
        old_sha = old.sha256 if old else None
        if old is None:
            BidBill.objects.create(lot=lot, bidder_org=None, data=bytes(data), sha256=digest)
        else:
            old.data, old.sha256 = bytes(data), digest
            old.save(update_fields=["data", "sha256"])
        log_action("evaluation.tender_bill.stored", actor=actor, obj=lot, tender_id=lot.pk, now=now,
                   data={"old": {"sha256": old_sha}, "new": {"sha256": digest, "items": len(index),
                                                             "bytes": len(data)}})
    return {"sha256": digest, "items": len(index), "bytes": len(data)}


def bills_from_packages(lot_id: int, organisation_ids: list[int], document: str) -> dict[int, str]:
    """File a ``BidBill`` for each organisation that has none, from its decrypted package: returns
    the organisations whose bill could not be taken, with the reason (``documents.Document.problem``)."""
    have = set(BidBill.objects.filter(lot_id=lot_id, bidder_org_id__in=organisation_ids)
               .values_list("bidder_org_id", flat=True))
    problems: dict[int, str] = {}
    for org_id in organisation_ids:
        if org_id in have:
            continue
        doc = read_document(lot_id, org_id, document, max_bytes=MAX_BILL_BYTES)
        if doc.problem:
            problems[org_id] = doc.problem
            continue
        BidBill.objects.create(lot_id=lot_id, bidder_org_id=org_id, data=doc.data, sha256=doc.sha256)
    return problems
