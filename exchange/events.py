"""Which changes become events for other platforms, and what each event carries
(docs/data-exchange.md, "Events").

``on_entry`` is registered with the audit log (``audit.log.ENTRY_HOOKS``): it runs inside the
transaction of every audited change, so an event is committed with its change or not at all (the
transactional outbox). Only the changes below make events, and each carries only what is public at
that moment: a published tender, an amendment, the announced bids (唱标, after decryption), the
candidates, an objection's existence and answer times (not its grounds or its author's contact),
the award. Nothing sealed, no person's data."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Callable

from django.conf import settings

from common.canonical import format_time

from .models import Delivery, OutboxEvent


def ocid(lot_id: int) -> str:
    return f"{settings.OCDS_PREFIX}-{lot_id}"


def _tender(lot_id: int, data: dict) -> dict:
    from bidding.models import Lot

    lot = Lot.objects.select_related("project__tenderee", "project__agency").get(pk=lot_id)
    project = lot.project
    return {"project": {"code": project.code, "title": project.title}, "lot": {"code": lot.code, "title": lot.title},
            "tenderee": project.tenderee.name, "agency": project.agency.name if project.agency else None,
            "bid_deadline": format_time(lot.bid_deadline), "status": lot.status}


def _amended(lot_id: int, data: dict) -> dict:
    return {"number": data["number"], "reason": data["reason"], "changes": data["changes"]}


def _opened(lot_id: int, data: dict) -> dict:
    return {"bids": [{"name": b["name"], "credit_code": b["credit_code"], "status": b["status"],
                      "fields": b["fields"]} for b in data.get("announcement", [])]}


def _candidates(lot_id: int, data: dict) -> dict:
    content = data["content"]
    return {"starts_at": data["starts_at"][1], "ends_at": data["ends_at"][1], "report_sha256": data["report_sha256"],
            "candidates": [{k: c[k] for k in ("rank", "name", "credit_code", "price_fen", "score", "evaluated_fen")}
                           for c in content["candidates"]],
            "rejections": [{"name": r["name"], "criteria": r["criteria"], "reasons": r["reasons"]}
                           for r in content["rejections"]]}


def _objection_raised(lot_id: int, data: dict) -> dict:
    return {"objection": data["objection"], "state": "open", "answer_due": data["answer_due"]}


def _objection_answered(lot_id: int, data: dict) -> dict:
    return {"objection": data["objection"], "state": "answered", "answered_at": data["answered_at"][1],
            "late": data["late"]}


def _objection_overdue(lot_id: int, data: dict) -> dict:
    return {"objection": data["objection"], "state": "open", "answer_due": data["answer_due"],
            "overdue_at": data["overdue_at"][1]}


def _award(lot_id: int, data: dict) -> dict:
    from accounts.models import Organisation

    org = Organisation.objects.get(pk=data["organisation"])
    return {"winner": {"name": org.name, "credit_code": org.credit_code}, "price_fen": data["price_fen"],
            "notices": [{"kind": n["kind"], "sha256": n["sha256"]} for n in data["notices"]]}


# audit action → (event kind, payload builder)
EVENTS: dict[str, tuple[str, Callable[[int, dict], dict]]] = {
    "bidding.lot.published": ("tender.published", _tender),
    "bidding.lot.amended": ("tender.amended", _amended),
    "bidding.opening.announced": ("tender.opened", _opened),
    "award.publicity.published": ("award.candidates", _candidates),
    "award.objection.raised": ("award.objection_raised", _objection_raised),
    "award.objection.answered": ("award.objection_answered", _objection_answered),
    "award.objection.overdue": ("award.objection_overdue", _objection_overdue),
    "award.award.made": ("award.made", _award),
}


def endpoint_names() -> list[str]:
    return [e["name"] for e in settings.EXCHANGE_ENDPOINTS]


def emit(kind: str, *, tender_id: int | None, payload: dict[str, Any], now: datetime) -> OutboxEvent:
    """Queue one event and a delivery per configured endpoint, in the caller's transaction."""
    key = uuid.uuid4()
    body = {"id": str(key), "kind": kind, "tender": tender_id, "ocid": ocid(tender_id) if tender_id else None,
            "time": format_time(now), **payload}
    event = OutboxEvent.objects.create(key=key, kind=kind, tender_id=tender_id, payload=body, created_at=now)
    Delivery.objects.bulk_create([Delivery(event=event, endpoint=name, tender_id=tender_id, next_attempt_at=now)
                                  for name in endpoint_names()])
    return event


def on_entry(*, action: str, tender_id: int | None, data: dict, now: datetime, **_: Any) -> None:
    spec = EVENTS.get(action)
    if spec is None or tender_id is None:
        return
    kind, build = spec
    emit(kind, tender_id=tender_id, payload=build(tender_id, data), now=now)
