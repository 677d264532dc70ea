"""The pre-opening key check over the API (docs/sealbid.md, "Checking your key before the deadline").
Thin: parse, call ``bidding.key_check``, serialise."""

from __future__ import annotations

from ninja import Field, Router, Schema, Status

from accounts.api_auth import session_auth, token_auth
from common import clock
from common.actor import Actor

from . import key_check

router = Router(tags=["sealed bids"], auth=[token_auth, session_auth])


class KeyCheckOut(Schema):
    id: str
    key_id: str
    suite: str
    envelope: str = Field(..., description="base64 of the test envelope, sealed to your current "
                          "certificate of the lot's cipher suite")
    bids_sealed_to_other_keys: list[dict]


class AnswerIn(Schema):
    file_key: str = Field(..., min_length=1, max_length=64, description="base64 of the 32-byte file key")


class AnswerOut(Schema):
    id: str
    status: str
    key_id: str
    certificate_replaced: bool
    bids_sealed_to_other_keys: list[dict]


@router.post("/lots/{lot_id}/key-checks", response={201: KeyCheckOut},
             summary="A test envelope sealed to your current certificate of the lot's suite, to check your key "
                     "before the deadline")
def issue(request, lot_id: int):
    check = key_check.issue_key_check(request.user, Actor.from_request(request), lot_id, now=clock.now())
    return Status(201, {"id": str(check.pk), "key_id": check.key_id, "suite": check.certificate.suite,
                        "envelope": key_check.envelope_b64(check),
                        "bids_sealed_to_other_keys": key_check.sealed_to_other_keys(
                            check.lot_id, check.organisation_id, check.key_id)})


@router.post("/key-checks/{check_id}/answer", response=AnswerOut,
             summary="Answer a key check with the file key your key unwrapped")
def answer(request, check_id: str, body: AnswerIn):
    return key_check.answer_key_check(request.user, Actor.from_request(request), check_id,
                                      file_key_b64=body.file_key, now=clock.now())
