"""Sealed-bid operations of the API: the platform's public keys, bidder certificates, resumable
uploads, the bidder's own submission and receipt, withdrawal. Thin: parse, call, serialise.

Upload protocol (tus-like, docs/sealbid.md): ``POST /lots/{id}/uploads {size, sha256?}`` → an
upload id; ``PATCH /uploads/{id}`` with ``Upload-Offset`` and at most ``max_chunk_bytes`` of body;
``HEAD``/``GET /uploads/{id}`` → the durable offset; ``POST /uploads/{id}/complete`` → the receipt.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any, Literal

from django.http import HttpResponse, JsonResponse
from ninja import Field, Router, Schema, Status

from accounts.api_auth import session_auth, token_auth
from audit.keys import platform_sm2_vkey, platform_vkey
from bidding.access import (access_certificate, access_escrow_share, access_lot, access_submission, access_upload,
                            can_read_all_certificates)
from common import clock, metrics
from common.actor import Actor
from common.crash import crash_point
from common.errors import BadRequest, ErrorCode, PlatformError

from . import certificates, escrow, submissions
from .models import BidderCertificate, BidUpload

# The bearer token is tried first: the session scheme checks CSRF before it even looks for a
# cookie, which would refuse every unsafe request of a token client (the `sealbid` tool).
router = Router(tags=["sealed bids"], auth=[token_auth, session_auth])


class PlatformKeysOut(Schema):
    origin: str
    vkey: str = Field(..., description="Ed25519 signed-note verifier key: checkpoints and receipts of intl tenders")
    sm2_vkey: str | None = Field(
        None, description="SM2 (sm2-sm3) signed-note verifier key: receipts of gm tenders and the SM2 line of "
                          "checkpoints (null if not provisioned)")
    ca_certificate: str = Field(..., description="PEM of the CA that certifies bidder keys")
    sm2_ca_certificate: str | None = Field(
        None, description="PEM of the SM2 CA that certifies the gm suite's bidder keys (null if not provisioned)")


class CsrIn(Schema):
    csr_pem: str = Field(..., min_length=1, max_length=16384)


class ReasonIn(Schema):
    reason: str = Field("", max_length=500)


class CertOut(Schema):
    id: int
    organisation_id: int
    organisation: str = Field(..., alias="organisation.name")
    credit_code: str = Field(..., alias="organisation.credit_code")  # the CSR names the same code
    key_id: str
    suite: str
    public_key: str = Field(..., description="the certified key: base64 (unpadded) of the 65-byte uncompressed "
                            "point, P-256 for the intl suite, SM2 for gm (what a browser seals to)")
    status: str
    serial: str
    certificate_pem: str
    not_before: datetime | None
    not_after: datetime | None
    reason: str
    created_at: datetime

    @staticmethod
    def resolve_public_key(obj) -> str:
        from crypto.keys import b64encode

        return b64encode(bytes(obj.public_key))


class UploadIn(Schema):
    size: int = Field(..., ge=1)
    sha256: str | None = None


class UploadOut(Schema):
    id: str
    lot_id: int
    size: int
    offset: int = Field(..., ge=0, description="durable: every byte below it is on disk")
    status: str = Field(..., description="open, complete, aborted or refused")
    max_chunk_bytes: int
    deadline: datetime


class SubmissionOut(Schema):
    id: str
    lot_id: int
    status: str
    sha256: str
    size: int
    commitment: str
    key_id: str
    received_at: datetime
    withdrawn_at: datetime | None
    receipt: dict[str, Any]
    sealed_to_current_certificate: bool = Field(
        ..., description="false when the organisation's current certificate of the lot's cipher suite "
        "changed after sealing (the other suite's certificate does not count): the opening needs the key "
        "this bid is sealed to (key_id), or seal and submit again before the deadline")

    @staticmethod
    def resolve_id(obj) -> str:
        return str(obj.id)

    @staticmethod
    def resolve_sealed_to_current_certificate(obj) -> bool:
        cert = certificates.current_certificate_for(obj.lot, obj.organisation_id, clock.now())
        return cert is not None and cert.key_id == obj.key_id


def _upload_json(upload: BidUpload, status: int = 200) -> JsonResponse:
    from django.conf import settings

    res = JsonResponse({"id": str(upload.pk), "lot_id": upload.lot_id, "size": upload.size,
                        "offset": upload.offset, "status": upload.status,
                        "max_chunk_bytes": settings.BID_UPLOAD_MAX_CHUNK_BYTES,
                        "deadline": upload.lot.bid_deadline.isoformat()}, status=status)
    res["Upload-Offset"] = str(upload.offset)
    res["Upload-Length"] = str(upload.size)
    res["Cache-Control"] = "no-store"
    return res


@router.get("/platform/keys", response=PlatformKeysOut, auth=None,
            summary="The platform's public keys, for checking receipts and certificates offline")
def platform_keys(request):
    from django.conf import settings

    return {"origin": settings.AUDIT_ORIGIN, "vkey": platform_vkey(), "sm2_vkey": platform_sm2_vkey(),
            "ca_certificate": certificates.ca_certificate_pem(),
            "sm2_ca_certificate": certificates.sm2_ca_certificate_pem()}


@router.post("/certificates", response={201: CertOut}, summary="Request a certificate for your key (CSR)")
def request_certificate(request, body: CsrIn):
    cert = certificates.request_certificate(request.user, Actor.from_request(request),
                                            csr_pem=body.csr_pem, now=clock.now())
    return Status(201, cert)


@router.get("/certificates", response=list[CertOut],
            summary="Your organisation's certificates (hosts, admins and supervisors: all)")
def list_certificates(request, status: str | None = None, suite: str | None = None):
    certs = BidderCertificate.objects.select_related("organisation")
    if not can_read_all_certificates(request.user):  # the same rule as GET /certificates/{id}
        certs = certs.filter(organisation_id=request.user.organisation_id or -1)
    if status:
        certs = certs.filter(status=status)
    if suite is not None:
        certs = certs.filter(suite=certificates.check_suite(suite))
    return list(certs[:500])


@router.get("/certificates/current", response=list[CertOut],
            summary="Your organisation's current certificates: one per suite at most (?suite= picks one)")
def current_certificates(request, suite: str | None = None):
    """Issued and within validity now. A tender's bids are sealed to, and its record confirmed with,
    the one of the tender's ``cipher_suite``: a client passes ``suite`` and takes the only entry
    (an empty list: none of that suite)."""
    org_id = request.user.organisation_id
    if suite is not None:
        certificates.check_suite(suite)
    if not org_id:
        return []
    certs = certificates.current_certificates(org_id, clock.now())
    return [c for c in certs if suite is None or c.suite == suite]


@router.get("/certificates/keys/{key_id}", summary="Whether a key is certified to your organisation or another")
def certificate_key_holder(request, key_id: str):
    if not re.fullmatch(r"[0-9a-f]{16}", key_id):
        raise BadRequest("a key id is 16 lower-case hex digits")
    return {"key_id": key_id, "holder": certificates.key_holder(request.user, key_id)}


@router.get("/certificates/{cert_id}", response=CertOut)
def get_certificate(request, cert_id: int):
    return access_certificate(request.user, cert_id)


@router.post("/certificates/{cert_id}/approve", response=CertOut)
def approve_certificate(request, cert_id: int):
    return certificates.decide_certificate(request.user, Actor.from_request(request), cert_id,
                                           approve=True, now=clock.now())


@router.post("/certificates/{cert_id}/reject", response=CertOut)
def reject_certificate(request, cert_id: int, body: ReasonIn):
    return certificates.decide_certificate(request.user, Actor.from_request(request), cert_id,
                                           approve=False, now=clock.now(), reason=body.reason)


@router.post("/certificates/{cert_id}/revoke", response=CertOut)
def revoke_certificate(request, cert_id: int, body: ReasonIn):
    return certificates.revoke_certificate(request.user, Actor.from_request(request), cert_id,
                                           reason=body.reason, now=clock.now())


def _counted(view):
    """An upload request refused with a platform error counts, by code, in
    ``kaibiao_upload_failures_total`` (docs/operations.md, "Metrics")."""
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except PlatformError as exc:
            metrics.UPLOAD_FAILURES.labels(exc.code.value).inc()
            raise
    return wrapper


@router.post("/lots/{lot_id}/uploads", response={201: UploadOut},
             summary="Start a resumable upload of a sealed bid")
@_counted
def start_upload(request, lot_id: int, body: UploadIn):
    upload = submissions.start_upload(request.user, Actor.from_request(request), lot_id,
                                      size=body.size, sha256=body.sha256, now=clock.now())
    return _upload_json(upload, status=201)


@router.api_operation(["GET", "HEAD"], "/uploads/{upload_id}", response=UploadOut,
                      summary="Where an upload stands")
def upload_status(request, upload_id: str):
    upload = access_upload(request.user, upload_id)
    return _upload_json(upload)


def _header_int(request, name: str) -> int:
    raw = request.META.get(name, "")
    if not raw.isdigit():
        raise BadRequest(f"the {name.replace('HTTP_', '').replace('_', '-').title()} header is required")
    return int(raw)


@router.api_operation(["PATCH", "PUT"], "/uploads/{upload_id}", response=UploadOut,
                      summary="Append bytes at Upload-Offset (application/octet-stream)")
@_counted
def upload_chunk(request, upload_id: str):
    offset = _header_int(request, "HTTP_UPLOAD_OFFSET")
    length = _header_int(request, "CONTENT_LENGTH")
    # The body is read in bounded pieces straight to disk; request.body is never touched, so
    # DATA_UPLOAD_MAX_MEMORY_SIZE does not apply and memory does not grow with the chunk.
    upload = submissions.write_chunk(request.user, Actor.from_request(request), upload_id,
                                     offset=offset, length=length, read=request.read, now=clock.now())
    metrics.UPLOAD_BYTES.inc(max(0, upload.offset - offset))
    return _upload_json(upload)


@router.delete("/uploads/{upload_id}", response={204: None})
def abort_upload(request, upload_id: str):
    submissions.abort_upload(request.user, Actor.from_request(request), upload_id, now=clock.now())
    return Status(204, None)


@router.post("/uploads/{upload_id}/complete", response={200: SubmissionOut, 201: SubmissionOut},
             summary="Check the envelope, store it durably, return the signed receipt",
             description="Idempotent: 201 with the new submission and its receipt; asked again for "
                         "a completed upload (the answer was lost), 200 with the same submission.")
@_counted
def complete_upload(request, upload_id: str):
    submission, created = submissions.complete_upload(request.user, Actor.from_request(request),
                                                      upload_id, now=clock.now())
    crash_point("receipt")
    return Status(201 if created else 200, submission)


@router.get("/lots/{lot_id}/bid", response=SubmissionOut, summary="Your current bid on this lot")
def my_bid(request, lot_id: int):
    return access_submission(request.user, lot_id)


@router.get("/lots/{lot_id}/bid/receipt", summary="Your current bid's receipt (tender-receipt/v1)")
def my_receipt(request, lot_id: int):
    return access_submission(request.user, lot_id).receipt


@router.get("/lots/{lot_id}/bid/header", summary="Your current bid's envelope header (public bytes)")
def my_header(request, lot_id: int):
    submission = access_submission(request.user, lot_id)
    return HttpResponse(bytes(submission.header), content_type="application/octet-stream")


@router.post("/lots/{lot_id}/bid/withdraw", response=SubmissionOut, summary="Withdraw your bid (撤回)")
def withdraw(request, lot_id: int):
    return submissions.withdraw(request.user, Actor.from_request(request), lot_id, now=clock.now())




class CustodianIn(Schema):
    public_key: str = Field(..., description="base64 (no padding) of the 65-byte P-256 point, or SM2 point with suite gm")
    suite: Literal["intl", "gm"] = Field("intl", description="intl: a P-256 key; gm: an SM2 key (国密 tenders)")


class EscrowIn(Schema):
    custodian_user_ids: list[int]
    threshold: int


@router.post("/custodians/me", summary="Register the key your escrow shares are sealed to")
def register_custodian(request, body: CustodianIn):
    from crypto.keys import b64decode

    try:
        raw = b64decode(body.public_key, 65)
    except ValueError:
        raise BadRequest("public_key is base64 of a 65-byte point") from None
    custodian = escrow.register_custodian(request.user, Actor.from_request(request), public_key=raw,
                                          now=clock.now(), suite=body.suite)
    return {"user_id": custodian.user_id, "key_id": escrow.custodian_key(custodian, body.suite)[1], "suite": body.suite}


@router.post("/lots/{lot_id}/escrow", response={201: dict},
             summary="Name the tender's custodians and threshold (host)")
def provision_escrow(request, lot_id: int, body: EscrowIn):
    key = escrow.provision_escrow(request.user, Actor.from_request(request), lot_id,
                                  custodian_user_ids=body.custodian_user_ids, threshold=body.threshold,
                                  now=clock.now())
    return Status(201, escrow.escrow_json(key))


@router.get("/lots/{lot_id}/escrow", summary="The tender's custodians (their keys, threshold) bidders split their file keys among")
def get_escrow(request, lot_id: int):
    from .models import EscrowKey

    lot = access_lot(request.user, lot_id)
    key = EscrowKey.objects.filter(lot=lot).first()
    if key is None:
        raise PlatformError(ErrorCode.ESCROW_NOT_READY, "this tender has no custodians yet")
    return escrow.escrow_json(key)


@router.get("/lots/{lot_id}/escrow/share",
            summary="Your dealt escrow share (custodians of set-ups made before v2; backup window only)")
def my_escrow_share(request, lot_id: int):
    return escrow.dealt_share(access_escrow_share(request.user, lot_id), Actor.from_request(request),
                              now=clock.now())
