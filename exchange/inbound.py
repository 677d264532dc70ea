"""Tender announcements received from another trading system (docs/data-exchange.md, "Inbound"):
each becomes a draft lot of the platform, created through ``bidding.actions`` (the same checks and
audit entries as the host's form), once per ``(source, external_id)``.

Only from a trusted source (``EXCHANGE_INBOUND_SOURCES``): the request is signed by the source's own
Ed25519 key in the profile the platform's own pushes use (RFC 9421, ``crypto.httpsig``), with its
``keyid`` the source's name. An unknown source is refused ``forbidden`` (``details.reason =
"unknown_source"``), a missing, stale or bad signature ``invalid_signature`` (``"bad_signature"``);
each refusal is audited ``exchange.inbound.refused`` in a transaction of its own."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.models import Organisation
from audit.log import log_action
from bidding import actions as tenders
from bidding.models import Project
from common.actor import Actor
from common.canonical import canonical_json
from common.errors import BadRequest, ErrorCode, PlatformError

from .models import InboundAnnouncement

FIELDS = ("title", "description", "bid_deadline", "signin_opens_at")


def _text(value, field: str, limit: int, *, required: bool = True) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit or "\x00" in value:
        raise BadRequest(f"{field} is a text of 1 to {limit} characters", details={"field": field})
    return value.strip()


def trusted_key(name) -> bytes | None:
    from django.conf import settings

    for source in settings.EXCHANGE_INBOUND_SOURCES:
        if source["name"] == name:
            return base64.b64decode(source["public_key"])
    return None


def _refuse(actor: Actor, code: ErrorCode, reason: str, message: str, *, source, body: bytes, now: datetime):
    digest = hashlib.sha256(body).hexdigest()
    with transaction.atomic():
        log_action("exchange.inbound.refused", actor=actor, now=now,
                   data={"source": source if isinstance(source, str) else None, "reason": reason, "sha256": digest})
    return PlatformError(code, message, details={"reason": reason})


def check_signed(actor: Actor, *, source, method: str, target_uri: str, headers, body: bytes,
                 now: datetime) -> None:
    """Refuse (audited) a request not from a configured source or not signed by that source's key."""
    from django.conf import settings

    from crypto import httpsig

    key = trusted_key(source)
    if key is None:
        raise _refuse(actor, ErrorCode.FORBIDDEN, "unknown_source", "announcements are accepted from the "
                      "configured trading systems only", source=source, body=body, now=now)
    try:
        keyid = httpsig.verify_request(key, method=method, target_uri=target_uri, headers=headers, body=body,
                                       now=int(now.timestamp()), max_age=settings.EXCHANGE_INBOUND_MAX_AGE_SECONDS)
    except httpsig.HttpSignatureError:
        keyid = None
    if keyid != source:
        raise _refuse(actor, ErrorCode.INVALID_SIGNATURE, "bad_signature", "the announcement is not signed by "
                      "its source's key (docs/data-exchange.md)", source=source, body=body, now=now)


def receive_announcement(user, actor: Actor, body: dict[str, Any], *, now: datetime) -> tuple[object, bool]:
    """The draft lot for an announcement, and whether it was created now (False: received before)."""
    source = _text(body.get("source"), "source", 60)
    external_id = _text(body.get("external_id"), "external_id", 100)
    project = body.get("project") or {}
    lot = body.get("lot") or {}
    if not isinstance(project, dict) or not isinstance(lot, dict):
        raise BadRequest("project and lot are objects")
    with transaction.atomic():
        known = InboundAnnouncement.objects.filter(source=source, external_id=external_id).select_related("lot").first()
        if known is not None:
            from bidding.access import access_lot

            return access_lot(user, known.lot_id), False
        credit = _text(body.get("tenderee_credit_code"), "tenderee_credit_code", 18)
        tenderee = Organisation.objects.filter(credit_code=credit).first()
        if tenderee is None:
            raise BadRequest("no organisation has this unified social credit code", details={"field": "tenderee_credit_code"})
        code = _text(project.get("code"), "project.code", 50)
        values = {"code": _text(lot.get("code"), "lot.code", 50), "title": _text(lot.get("title"), "lot.title", 200),
                  "description": _text(lot.get("description"), "lot.description", 5000, required=False),
                  "bid_deadline": _time(lot.get("bid_deadline"), "lot.bid_deadline"),
                  "signin_opens_at": _time(lot.get("signin_opens_at"), "lot.signin_opens_at", required=False)}
        existing = Project.objects.filter(code=code).first()
        if existing is None:
            created = tenders.create_tender(user, actor, now=now, lot=values, project={
                "code": code, "title": _text(project.get("title"), "project.title", 200),
                "tenderee_id": tenderee.pk,
                "agency_id": user.organisation_id if user.organisation_id not in (None, tenderee.pk) else None,
                "description": _text(project.get("description"), "project.description", 5000, required=False)})
        else:
            created = tenders.create_lot(user, actor, existing.pk, now=now, **values)
        digest = hashlib.sha256(canonical_json(body).encode()).hexdigest()
        InboundAnnouncement.objects.create(source=source, external_id=external_id, lot=created,
                                           payload_sha256=digest, received_at=now)
        log_action("exchange.inbound.received", actor=actor, obj=created, tender_id=created.pk, now=now,
                   data={"source": source, "external_id": external_id, "sha256": digest,
                         "status": [None, created.status]})
    return created, True


def _time(value, field: str, *, required: bool = True):
    from django.utils.dateparse import parse_datetime

    if value is None and not required:
        return None
    try:
        parsed = parse_datetime(value) if isinstance(value, str) else None
    except ValueError:  # well formed but not a time (month 13)
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest(f"{field} is an ISO 8601 time with its offset", details={"field": field})
    return parsed
