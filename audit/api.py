"""Audit operations of the API: the platform's verifier key, checkpoints, entries for supervisors,
and inclusion and consistency proofs."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from ninja import Field, Path, Query, Router, Schema, Status

from common.access import require_cap
from common.errors import BadRequest, NotFound
from common.roles import Cap

from . import tree
from .checkpoints import issue_checkpoint, latest_checkpoint
from .keys import platform_sm2_vkey, platform_vkey
from .models import AuditEntry

router = Router(tags=["audit"])
MAX_PAGE = 500
INDEX_MAX = 2**63 - 1  # entries are indexed by a 64-bit integer


class KeyOut(Schema):
    origin: str
    vkey: str
    sm2_vkey: str | None = None


class CheckpointOut(Schema):
    size: int
    root: str
    note: str
    created_at: datetime


class EntryOut(Schema):
    index: int
    created_at: datetime
    action: str
    actor_name: str
    role: str
    organisation_name: str
    ip: str
    object_type: str
    object_id: str
    tender_id: int | None
    room: str
    body: str


class EntryFilter(Schema):
    after: int = Field(-1, ge=-1, le=INDEX_MAX)
    limit: int = Field(100, ge=1, le=MAX_PAGE)
    tender: int | None = None
    action: str | None = None
    actor: str | None = None
    room: str | None = None


class InclusionOut(Schema):
    index: int
    size: int
    leaf_hash: str
    proof: list[str]
    root: str


class ConsistencyOut(Schema):
    first: int
    second: int
    proof: list[str]


def _checkpoint_out(record) -> dict:
    return {"size": record.size, "root": bytes(record.root).hex(), "note": record.note,
            "created_at": record.created_at}


@router.get("/audit/key", response=KeyOut, auth=None,
            summary="The platform's verifier key (signed-note vkey) for checkpoints and receipts")
def key(request):
    return {"origin": settings.AUDIT_ORIGIN, "vkey": platform_vkey(), "sm2_vkey": platform_sm2_vkey()}


@router.get("/audit/checkpoints/latest", response=CheckpointOut, auth=None)
def latest(request):
    record = latest_checkpoint()
    if record is None:
        raise NotFound("no checkpoint yet")
    return _checkpoint_out(record)


@router.post("/audit/checkpoints", response={201: CheckpointOut},
             summary="Issue a checkpoint now (platform administrators)")
def issue(request):
    # Reading the log is not writing to it: each checkpoint appends its record and signs with the
    # platform key, so only the platform's operator asks for one (supervisors read, 403 here).
    require_cap(request.user, Cap.AUDIT_CHECKPOINT)
    return Status(201, _checkpoint_out(issue_checkpoint(f"requested by {request.user.username}")))


@router.get("/audit/entries", response=list[EntryOut], summary="Audit entries (supervisors)")
def entries(request, filters: Query[EntryFilter]):
    require_cap(request.user, Cap.AUDIT_READ)
    if not 1 <= filters.limit <= MAX_PAGE:
        raise BadRequest(f"limit is 1 to {MAX_PAGE}")
    rows = AuditEntry.objects.filter(index__gt=filters.after).order_by("index")
    if filters.tender is not None:
        rows = rows.filter(tender_id=filters.tender)
    if filters.action:
        rows = rows.filter(action__startswith=filters.action)
    if filters.actor:
        rows = rows.filter(actor_name=filters.actor)
    if filters.room:
        rows = rows.filter(room=filters.room)
    return list(rows[:filters.limit])


@router.get("/audit/entries/{index}/inclusion", response=InclusionOut,
            summary="Proof that an entry is in the tree of a given size")
def inclusion(request, index: int = Path(..., ge=0, le=INDEX_MAX),
              size: int | None = Query(None, ge=1, le=INDEX_MAX)):
    entry = AuditEntry.objects.filter(index=index).only("actor_id").first()
    if entry is None or (entry.actor_id != request.user.pk and not _can_read(request.user)):
        raise NotFound("entry not found")
    size = tree.current_size() if size is None else size
    if not index < size <= tree.current_size():
        raise BadRequest("size must cover the entry and not exceed the log")
    proof = tree.inclusion_proof(index, size)
    return {"index": index, "size": size, "leaf_hash": proof.leaf_hash.hex(),
            "proof": [h.hex() for h in proof.hashes], "root": proof.root.hex()}


@router.get("/audit/consistency", response=ConsistencyOut, auth=None,
            summary="Proof that the tree of size `first` is a prefix of the tree of size `second`")
def consistency(request, first: int = Query(..., ge=1, le=INDEX_MAX,
                                            description="the smaller tree's size (≥ 1)"),
                second: int = Query(..., ge=1, le=INDEX_MAX,
                                    description="the larger tree's size, at most the log's")):
    if not 0 <= first <= second <= tree.current_size():
        raise BadRequest("need 0 ≤ first ≤ second ≤ the log's size")
    if first == 0 < second:  # as RFC 9162 verifiers treat it (crypto.merkle.verify_consistency)
        raise BadRequest("a consistency proof from the empty tree is meaningless: every tree extends it")
    return {"first": first, "second": second,
            "proof": [h.hex() for h in tree.consistency_proof(first, second)]}


def _can_read(user) -> bool:
    from common.roles import has_cap

    return has_cap(getattr(user, "role", None), Cap.AUDIT_READ)
