"""The tender's bill for 清标 (``PUT /api/v1/lots/{lot_id}/tender-bill``): the host sends the xlsx
as the request body while the tender is a draft (``bill_intake.store_tender_bill``)."""

from __future__ import annotations

from ninja import Router

from common import clock
from common.actor import Actor

from .bill_intake import store_tender_bill

router = Router(tags=["evaluation"])


@router.put("/lots/{lot_id}/tender-bill", response=dict, summary="File the tender's bill (xlsx body; host, draft)",
            openapi_extra={"requestBody": {"required": True, "content": {
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {
                    "schema": {"type": "string", "format": "binary"}}}}})
def put_tender_bill(request, lot_id: int):
    return store_tender_bill(request.user, Actor.from_request(request), lot_id, request.body, now=clock.now())
