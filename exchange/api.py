"""The data exchange's API (docs/data-exchange.md):

- ``GET  /exchange/key`` the key receivers verify pushes with (public);
- ``GET  /lots/{id}/ocds/releases`` and ``/lots/{id}/ocds/record``: a tender's OCDS release package
  and record package (public; a draft is ``not_found``);
- ``GET  /exchange/ocds/records?after=&limit=`` every public tender's record, by lot id (public);
- ``GET  /exchange/deliveries?state=dead`` the dead-letter list, ``POST /exchange/deliveries/{id}/retry``
  (administrators);
- ``POST /exchange/inbound/announcements`` a tender announcement from a configured trading system
  (an integration's token, the request signed with the source's key): a draft lot.
"""

from __future__ import annotations

from typing import Any, Optional

from django.http import HttpResponse
from ninja import Query, Router, Schema, Status

from bidding.models import Lot
from common import clock
from common.access import require_cap
from common.actor import Actor
from common.canonical import format_time
from common.errors import BadRequest, NotFound
from common.roles import Cap

from . import delivery, inbound, keys, ocds
from .models import Delivery

router = Router(tags=["exchange"])
MAX_PAGE = 100


def _json(value) -> HttpResponse:
    return HttpResponse(ocds.dumps(value).encode(), content_type="application/json")


def _public_lot(lot_id) -> Lot:
    lot = (Lot.objects.select_related("project__tenderee", "project__agency")
           .filter(pk=lot_id, status__in=ocds.PUBLIC_STATUSES).first())
    if lot is None:
        raise NotFound()
    return lot


@router.get("/exchange/key", response=dict, auth=None, summary="The key pushes are signed with")
def key(request):
    return keys.key_document()


@router.get("/lots/{lot_id}/ocds/releases", auth=None, summary="A tender's OCDS release package (public)")
def lot_releases(request, lot_id: int):
    rels = ocds.releases(_public_lot(lot_id))
    if not rels:
        raise NotFound()
    return _json(ocds.release_package(rels, uri=request.build_absolute_uri(), published=rels[-1]["date"]))


@router.get("/lots/{lot_id}/ocds/record", auth=None, summary="A tender's OCDS record package (public)")
def lot_record(request, lot_id: int):
    record = ocds.record(_public_lot(lot_id))
    if record is None:
        raise NotFound()
    return _json(ocds.record_package([record], uri=request.build_absolute_uri(),
                                     published=record["compiledRelease"]["date"]))


class Page(Schema):
    after: int = 0
    limit: int = MAX_PAGE


@router.get("/exchange/ocds/records", auth=None, summary="Every public tender's OCDS record, by lot id")
def all_records(request, page: Query[Page]):
    if not 1 <= page.limit <= MAX_PAGE:
        raise BadRequest(f"limit is 1 to {MAX_PAGE}")
    lots = list(Lot.objects.select_related("project__tenderee", "project__agency")
                .filter(pk__gt=page.after, status__in=ocds.PUBLIC_STATUSES).order_by("pk")[:page.limit])
    records = [r for r in (ocds.record(lot) for lot in lots) if r]
    package = ocds.record_package(records, uri=request.build_absolute_uri(), published=format_time(clock.now()))
    if len(lots) == page.limit:
        package["links"] = {"next": request.build_absolute_uri(f"?after={lots[-1].pk}&limit={page.limit}")}
    return _json(package)


def delivery_view(d: Delivery) -> dict[str, Any]:
    return {"id": d.pk, "event": str(d.event.key), "kind": d.event.kind, "tender": d.tender_id,
            "endpoint": d.endpoint, "state": d.state, "attempts": d.attempts,
            "next_attempt_at": format_time(d.next_attempt_at), "last_error": d.last_error,
            "created_at": format_time(d.event.created_at)}


class DeliveryFilter(Schema):
    state: str = "dead"
    limit: int = MAX_PAGE


@router.get("/exchange/deliveries", response=list[dict], summary="The outbox's deliveries (administrators)")
def deliveries(request, filters: Query[DeliveryFilter]):
    require_cap(request.user, Cap.EXCHANGE_MANAGE)
    if filters.state not in Delivery.State.values or not 1 <= filters.limit <= MAX_PAGE:
        raise BadRequest("state is pending, delivered or dead; limit 1 to 100")
    rows = Delivery.objects.filter(state=filters.state).select_related("event").order_by("event_id")
    return [delivery_view(d) for d in rows[:filters.limit]]


@router.post("/exchange/deliveries/{delivery_id}/retry", response=dict,
             summary="Put a dead delivery back in the queue (administrators)")
def retry(request, delivery_id: int):
    d = delivery.retry(request.user, Actor.from_request(request), delivery_id, now=clock.now())
    return delivery_view(d)


class ProjectIn(Schema):
    code: str
    title: str
    description: str = ""


class LotIn(Schema):
    code: str
    title: str
    description: str = ""
    bid_deadline: str  # ISO 8601 with its offset
    signin_opens_at: Optional[str] = None


class AnnouncementIn(Schema):
    source: str
    external_id: str
    tenderee_credit_code: str
    project: ProjectIn
    lot: LotIn


@router.post("/exchange/inbound/announcements", response={200: dict, 201: dict},
             summary="A tender announcement from another trading system: a draft lot")
def receive(request, body: AnnouncementIn):
    actor, now = Actor.from_request(request), clock.now()
    inbound.check_signed(actor, source=body.source, method=request.method, target_uri=request.build_absolute_uri(),
                         headers=request.headers, body=request.body, now=now)
    lot, created = inbound.receive_announcement(request.user, actor, body.model_dump(), now=now)
    return Status(201 if created else 200, {"lot": lot.pk, "project": lot.project.code, "code": lot.code,
                                            "status": lot.status, "created": created})
