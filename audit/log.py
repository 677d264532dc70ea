"""``log_action``: append one entry to the audit log in the caller's transaction.

Every state change of the platform calls it inside the same ``transaction.atomic()`` block as the
change, so the change and its record commit or roll back together. Indices are assigned under a row
lock on ``AuditHead``; the index is therefore gap-free, and the Merkle frontier kept in the head
gives the new root in O(log n) without reading old entries.

When the index is assigned depends on ``settings.AUDIT_SEQUENCING`` (``audit.sequencer``):
"immediate" (SQLite always; the default outside production) assigns it in the caller's transaction,
holding the head lock until the caller commits; "batched" (production on PostgreSQL) queues the
entry in the caller's transaction and a sequencer assigns indices to committed entries in batches,
milliseconds later. A caller that needs its entry's index at once passes ``sequenced=True``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from django.db import connection, transaction

from common import clock
from common.actor import Actor
from common.canonical import canonical_json, format_time
from crypto.merkle import EMPTY_ROOT, leaf_hash, node_hash

from .models import AuditEntry, AuditHead, AuditPending
from .sequencer import IMMEDIATE, sequencer, sequencing_mode
from .sql import execute_prepared

ENTRY_VERSION = 1

# Called inside ``log_action``'s transaction with each appended entry's fields (``action``,
# ``tender_id``, ``object_type``, ``object_id``, ``data``, ``now``): the data exchange's outbox
# writes its events here, so an event commits or rolls back with the change it reports
# (docs/data-exchange.md). Registered by apps above the log in their ``AppConfig.ready``.
ENTRY_HOOKS: list[Callable[..., None]] = []


def entry_body(*, index: int, **fields: Any) -> str:
    prefix, suffix = entry_body_parts(**fields)
    return f"{prefix}{index}{suffix}"


def entry_body_parts(*, now: datetime, action: str, actor: Actor, object_type: str,
                     object_id: str, tender_id: int | None, room: str,
                     data: dict[str, Any]) -> tuple[str, str]:
    """The canonical body split around its index: ``prefix + str(index) + suffix`` is exactly
    ``canonical_json`` of the whole entry (keys are sorted, and "index" sits between "data" and
    "ip"), so the database can fill in the index it assigns under its lock."""
    fields = {
        "v": ENTRY_VERSION,
        "time": format_time(now),
        "action": action,
        "actor": {"id": actor.user_id, "username": actor.username, "role": actor.role,
                  "org": actor.organisation_id, "org_name": actor.organisation_name},
        "ip": actor.ip,
        "object": {"type": object_type, "id": object_id},
        "tender": tender_id,
        "room": room,
        "data": data,
    }
    # Two dumps of half the keys each: their concatenation around '"index":' is byte for byte the
    # dump of the whole entry (sorted keys, no spaces), and costs a third of one dump per field.
    before = canonical_json({k: v for k, v in fields.items() if k < "index"})
    after = canonical_json({k: v for k, v in fields.items() if k > "index"})
    prefix = before[:-1] + ',"index":'
    suffix = "," + after[1:]
    return prefix, suffix


def entry_columns(*, now: datetime, action: str, actor: Actor, object_type: str, object_id: str,
                  tender_id: int | None, room: str) -> dict[str, Any]:
    """The row's copies of the body's fields, for filtering and display. ``audit_check`` compares
    every one of them with the hashed body (``audit.verify.body_columns``)."""
    return dict(created_at=now, action=action, actor_id=actor.user_id, actor_name=actor.username,
                role=actor.role, organisation_id=actor.organisation_id,
                organisation_name=actor.organisation_name, ip=actor.ip, object_type=object_type,
                object_id=object_id, tender_id=tender_id, room=room)


def lock_head() -> AuditHead:
    try:
        return AuditHead.objects.select_for_update().get(pk=1)
    except AuditHead.DoesNotExist:
        AuditHead.objects.get_or_create(pk=1)
        return AuditHead.objects.select_for_update().get(pk=1)


def log_action(action: str, *, actor: Actor, obj: Any = None, object_type: str = "",
               object_id: str | int = "", tender_id: int | None = None, room: str = "",
               data: dict[str, Any] | None = None, now: datetime | None = None,
               sequenced: bool = False) -> AuditEntry | AuditPending:
    """Append ``action`` (a namespaced code such as ``bidding.bid.submitted``) to the log.

    Call it inside the transaction that makes the change; it joins that transaction. Returns the
    ``AuditEntry`` when the entry was sequenced here; in batched mode, the ``AuditPending`` row
    (durable at the caller's commit, indexed shortly after). ``sequenced=True`` — for callers that
    need the index or a proof now, e.g. a bid receipt — sequences it in the caller's transaction
    after every pending entry visible to it, so the log stays one total order; the head lock is
    then held until the caller commits, as every append did before batching.
    """
    if "." not in action:
        raise ValueError(f"audit action codes are namespaced, got {action!r}")
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    now = now or clock.now()
    prefix, suffix = entry_body_parts(now=now, action=action, actor=actor, object_type=object_type,
                                      object_id=str(object_id), tender_id=tender_id, room=room,
                                      data=data or {})
    columns = entry_columns(now=now, action=action, actor=actor, object_type=object_type,
                            object_id=str(object_id), tender_id=tender_id, room=room)
    mode = sequencing_mode()
    # No savepoint: if the append fails, the caller's change must not commit without it.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            if sequenced or mode == IMMEDIATE:
                entry = _append_in_database(prefix, suffix, columns)
            else:
                entry = _enqueue(prefix, suffix, columns)
        else:
            entry = append_locked(lock_head(), prefix, suffix, columns)
        for hook in ENTRY_HOOKS:
            hook(action=action, tender_id=tender_id, object_type=object_type, object_id=str(object_id),
                 data=data or {}, now=now)
        return entry


def append_locked(head: AuditHead, prefix: str, suffix: str, columns: dict[str, Any]) -> AuditEntry:
    """Append one entry at ``head.size``, in Python. Head row lock held (``lock_head``); pending
    entries are not sequenced first — the caller did, or wants nothing between (checkpoints)."""
    index = head.size
    body = f"{prefix}{index}{suffix}"
    leaf = leaf_hash(body.encode())
    frontier, nodes = push_leaf(head.frontier, leaf)
    entry = AuditEntry.objects.create(index=index, body=body, leaf_hash=leaf,
                                      nodes=b"".join(nodes), **columns)
    head.size = index + 1
    head.frontier = frontier
    head.root = _root_of(frontier)
    head.save(update_fields=["size", "frontier", "root"])
    return entry


_APPEND_SQL = """SELECT idx, body, leaf, nodes FROM audit_append(
    %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""


# Plain SQL, as for ``audit_append``: the ORM's INSERT compilation cost more CPU than the INSERT.
_ENQUEUE_SQL = """INSERT INTO audit_auditpending (created_at, action, actor_id, actor_name, role,
    organisation_id, organisation_name, ip, object_type, object_id, tender_id, room, prefix, suffix)
    VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id, queued_at"""


_SQL_COLUMNS = ("created_at", "action", "actor_id", "actor_name", "role", "organisation_id",
                "organisation_name", "ip", "object_type", "object_id", "tender_id", "room")


# ``_enqueue`` builds its row positionally: the parameters must follow the model's field order.
assert [f.attname for f in AuditPending._meta.concrete_fields] == ["id", "queued_at", *_SQL_COLUMNS, "prefix", "suffix"]


def _sql_params(prefix: str, suffix: str, columns: dict[str, Any]) -> list:
    """The parameters of ``audit_append`` and of the queue's INSERT: the columns, then the body's
    two halves around the index."""
    return [columns[name] for name in _SQL_COLUMNS] + [prefix, suffix]


def _enqueue(prefix: str, suffix: str, columns: dict[str, Any]) -> AuditPending:
    """Batched mode: queue the entry with the caller's change; once that commits, this process's
    sequencer is woken (a rollback discards both the row and the wake-up)."""
    params = _sql_params(prefix, suffix, columns)
    pending_id, queued_at = execute_prepared(_ENQUEUE_SQL, params)
    sequencer.note(pending_id)
    transaction.on_commit(sequencer.kick)
    # Positional, in the model's field order (checked below): Django's fast path.
    row = AuditPending(pending_id, queued_at, *params)
    row._state.adding = False
    row._state.db = "default"
    return row


def _append_in_database(prefix: str, suffix: str, columns: dict[str, Any]) -> AuditEntry:
    """PostgreSQL: one call to ``audit_append`` (migrations 0003, 0006) sequences any pending
    entries visible to it (batched mode), then locks the head, assigns this entry's index, hashes,
    merges the frontier and inserts the row: the head lock costs one round trip, not three.
    ``audit_check`` recomputes everything it wrote in Python."""
    with connection.cursor() as cursor:
        cursor.execute(_APPEND_SQL, _sql_params(prefix, suffix, columns))
        index, body, leaf, nodes = cursor.fetchone()
    entry = AuditEntry(index=index, body=body, leaf_hash=bytes(leaf), nodes=bytes(nodes), **columns)
    entry._state.adding = False
    entry._state.db = "default"
    return entry


def push_leaf(frontier: list, leaf: bytes) -> tuple[list, list[bytes]]:
    """Add one leaf to the frontier ([[subtree_size, hex_hash], ...], left to right), merging
    equal-sized subtrees; return the new frontier and the completed subtree hashes, level 1 first."""
    stack = [(size, bytes.fromhex(h)) for size, h in frontier]
    stack.append((1, leaf))
    nodes = []
    while len(stack) >= 2 and stack[-1][0] == stack[-2][0]:
        size, right = stack.pop()
        _, left = stack.pop()
        merged = node_hash(left, right)
        stack.append((size * 2, merged))
        nodes.append(merged)
    return [[size, h.hex()] for size, h in stack], nodes


def _root_of(frontier: list) -> bytes:
    if not frontier:
        return EMPTY_ROOT
    root = bytes.fromhex(frontier[-1][1])
    for _, h in reversed(frontier[:-1]):
        root = node_hash(bytes.fromhex(h), root)
    return root
