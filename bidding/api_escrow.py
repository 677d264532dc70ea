"""Backup decryption's HTTP operations for the "shares" scheme (docs/opening.md, "Backup
decryption"): the host opens a bid's backup window; each custodian lists its open recoveries,
fetches what its client needs to unwrap its share of that one bid, and releases the share. Thin.
"""

from __future__ import annotations

from typing import Any

from ninja import Field, Router, Schema, Status

from accounts.api_auth import session_auth, token_auth
from bidding.access import access_hall
from common import clock
from common.actor import Actor
from common.errors import ErrorCode, PlatformError

from . import escrow_recovery

router = Router(tags=["backup decryption"], auth=[token_auth, session_auth])


class RecoveryIn(Schema):
    submission: str = Field(..., max_length=40)
    reason: str = Field(..., max_length=30)
    note: str = Field("", max_length=500)


class ReleaseIn(Schema):
    index: int = Field(..., ge=1, le=99)
    share: str = Field(..., max_length=856, description="base64 of the unwrapped share, padded or not: "
                       "32 bytes (tender-envelope/v2) or C(n-1, k-1) x 32 bytes, at most 640 (v3)")


@router.post("/lots/{lot_id}/opening/backup-recoveries", response={201: dict},
             summary="Open a bid's backup window for a recorded reason (host)")
def open_recovery(request, lot_id: int, body: RecoveryIn):
    _, role = access_hall(request.user, lot_id)
    if role != "host":
        raise PlatformError(ErrorCode.FORBIDDEN, "only the host opens a bid's backup window")
    recovery = escrow_recovery.open_recovery(request.user, Actor.from_request(request), lot_id,
                                             submission_id=body.submission, reason=body.reason,
                                             note=body.note, now=clock.now())
    return Status(201, escrow_recovery.recovery_json(recovery))


@router.get("/custodians/me/recoveries", summary="Open recoveries you hold a share for (custodians)")
def my_recoveries(request) -> list[dict[str, Any]]:
    return escrow_recovery.custodian_recoveries(request.user, clock.now())


@router.get("/lots/{lot_id}/opening/backup-recoveries/{recovery_id}/share",
            summary="The envelope header and your index, to unwrap your share (custodians, window only)")
def share_context(request, lot_id: int, recovery_id: str) -> dict[str, Any]:
    return escrow_recovery.custodian_context(request.user, Actor.from_request(request), lot_id,
                                             recovery_id, now=clock.now())


@router.post("/lots/{lot_id}/opening/backup-recoveries/{recovery_id}/shares",
             summary="Release your unwrapped share of this bid (custodians, window only)")
def release_share(request, lot_id: int, recovery_id: str, body: ReleaseIn) -> dict[str, Any]:
    return escrow_recovery.release_share(request.user, Actor.from_request(request), lot_id, recovery_id,
                                         index=body.index, share=body.share, now=clock.now())
