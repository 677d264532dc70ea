"""The opening hall's HTTP operations: key release for ``sealbid open``, the viewer's view of the
hall, the opening record (JSON, PDF) and its confirmation, backup decryption. Thin: the hall room
(``hall:<lot id>``) and these call the same actions (``bidding.opening``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.http import HttpResponse
from ninja import Field, Router, Schema

from accounts.api_auth import session_auth, token_auth
from bidding.access import access_hall
from common import clock
from common.actor import Actor
from common.errors import ErrorCode, PlatformError

from .models import Opening
from .opening import views
from .opening.decryption import backup_decrypt, release_key
from .opening.record import confirm_record, render_record_pdf

router = Router(tags=["opening hall"], auth=[token_auth, session_auth])


class ReleaseIn(Schema):
    file_key: str = Field(..., max_length=100, description="base64 of the 32-byte file key")
    commitment: str | None = Field(None, max_length=64, description="the envelope's commitment (header)")


class ConfirmIn(Schema):
    signature: str = Field(..., max_length=200,
                           description="base64 ECDSA P-256/SHA-256 signature (r‖s or DER) over `message`")
    hash: str | None = Field(None, max_length=64)


class ShareIn(Schema):
    custodian: int
    index: int
    share: str = Field(..., max_length=100)


class BackupIn(Schema):
    submission: UUID = Field(..., description="the submission's id (a UUID)")
    reason: str
    note: str = Field("", max_length=500)
    shares: list[ShareIn]


def _bidder(request, lot_id: int) -> str:
    _, role = access_hall(request.user, lot_id)
    if role != "bidder":
        raise PlatformError(ErrorCode.FORBIDDEN, "only a bidder does this")
    return role


@router.post("/lots/{lot_id}/decryption", summary="Release your file key (sealbid open)")
def decryption(request, lot_id: int, body: ReleaseIn) -> dict[str, Any]:
    role = _bidder(request, lot_id)
    return release_key(request.user, Actor.from_request(request), lot_id, file_key=body.file_key,
                       commitment=body.commitment, role=role, now=clock.now())


@router.get("/lots/{lot_id}/opening", summary="The hall as you may see it (the room's snapshot)")
def opening(request, lot_id: int) -> dict[str, Any]:
    _, role = access_hall(request.user, lot_id)
    return views.snapshot(lot_id, role, request.user.organisation_id)


def _record_opening(request, lot_id: int) -> Opening:
    access_hall(request.user, lot_id)
    op = Opening.objects.select_related("lot", "lot__project").filter(lot_id=lot_id).first()
    if op is None or op.record is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "the opening record is not generated yet")
    return op


@router.get("/lots/{lot_id}/opening/record", summary="The opening record, its hash and what to sign")
def record(request, lot_id: int) -> dict[str, Any]:
    op = _record_opening(request, lot_id)
    return {"record": op.record, **views.record_payload(op),
            "confirmations": {str(c.organisation_id): c.state for c in op.confirmations.all()}}


@router.get("/lots/{lot_id}/opening/record.pdf", summary="The opening record as a PDF")
def record_pdf(request, lot_id: int):
    op = _record_opening(request, lot_id)
    response = HttpResponse(render_record_pdf(op), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="opening-record-{lot_id}.pdf"'
    return response


@router.get("/lots/{lot_id}/opening/announcement.wav", summary="The announcement (唱标) read aloud")
def announcement_audio(request, lot_id: int):
    from documents.speech import SpeechUnavailable

    from .opening.speech import announcement_audio as spoken

    access_hall(request.user, lot_id)
    op = Opening.objects.select_related("lot", "lot__project").filter(lot_id=lot_id).first()
    if op is None or not op.announcement:
        raise PlatformError(ErrorCode.INVALID_STATE, "nothing is announced yet")
    try:
        audio, digest = spoken(op.announcement, op.lot)
    except SpeechUnavailable:
        raise PlatformError(ErrorCode.UNAVAILABLE, "speech is unavailable on this server") from None
    response = HttpResponse(audio, content_type="audio/wav")
    response["Content-Disposition"] = f'inline; filename="announcement-{lot_id}.wav"'
    response["X-Text-SHA256"] = digest
    return response


@router.post("/lots/{lot_id}/opening/record/confirmation", summary="Confirm the record (signature)")
def confirmation(request, lot_id: int, body: ConfirmIn) -> dict[str, Any]:
    role = _bidder(request, lot_id)
    return confirm_record(request.user, Actor.from_request(request), lot_id, role=role,
                          signature=body.signature, record_hash=body.hash, now=clock.now())


@router.post("/lots/{lot_id}/opening/backup-decryption",
             summary="Backup decryption with the custodians' opened shares (host)")
def backup_decryption(request, lot_id: int, body: BackupIn) -> dict[str, Any]:
    _, role = access_hall(request.user, lot_id)
    if role != "host":
        raise PlatformError(ErrorCode.FORBIDDEN, "only the host enters the custodians' shares")
    return backup_decrypt(request.user, Actor.from_request(request), lot_id, submission_id=body.submission,
                          shares=[s.dict() for s in body.shares], reason=body.reason, note=body.note,
                          now=clock.now())
