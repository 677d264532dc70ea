"""What each viewer of the hall may see: the snapshot, the payloads of the hall's events, and the
client's reducer (``apply``). Payload builders are shared by the snapshot and the events, so
*snapshot before + events = snapshot after* holds by construction (``tests/bidding/test_hall_actions.py``).

Visibility (docs/opening.md, "Who sees what"):

- Before the deadline a bidder sees the lot, the phase and its own chat with the host: nothing
  about other bidders, not even their number (招标投标法 22).
- From the deadline everyone sees the bidders on file; during decryption bidders see only counts
  (``progress``) and their own bid's state (``mine``, stream ``org:<id>``); the host and supervisors
  see each bid's state without its content (``statuses``, stream ``role:host``).
- Names with prices and the other announced fields reach everyone only in the announcement.
- The private chat travels on ``org:<bidder>`` and ``role:host``; supervisors see every stream.
"""

from __future__ import annotations

from typing import Any

from common.canonical import format_time

from ..models import ChatMessage, Lot, Objection, Opening, OpeningBid, RecordConfirmation
from ..phases import Phase
from . import rules

HOST_VIEW_ROLES = frozenset({"host", "supervisor"})


def room_key(lot_id: int) -> str:
    return f"hall:{int(lot_id)}"


def _t(value) -> str | None:
    return format_time(value) if value is not None else None


def phase_payload(op: Opening | None) -> dict[str, Any]:
    if op is None:
        return {"phase": Phase.SCHEDULED.value, "paused": False, "pause_reason": "",
                "decryption_ends_at": None, "confirmation_ends_at": None}
    return {"phase": op.phase, "paused": op.paused, "pause_reason": op.pause_reason,
            "decryption_ends_at": _t(op.decryption_ends_at),
            "confirmation_ends_at": _t(op.confirmation_ends_at)}


def coefficient_enabled(lot: Lot) -> bool:
    return (lot.evaluation_settings or {}).get("price_formula") == "construction_mean"


def coefficient_payload(op: Opening | None, lot: Lot) -> dict[str, Any]:
    enabled = coefficient_enabled(lot)
    out: dict[str, Any] = {"enabled": enabled, "commitment": "", "seed": "", "value": ""}
    if enabled:
        k_min, k_max, step = rules.coefficient_range(lot.evaluation_settings or {})
        out.update(k_min=str(k_min), k_max=str(k_max), k_step=str(step))
    if op is not None and enabled:
        out["commitment"] = op.coefficient_commitment
        if op.coefficient_drawn_at is not None:
            out["seed"], out["value"] = op.coefficient_seed, op.coefficient_value
    return out


def bidders_payload(op: Opening | None) -> dict[str, Any]:
    """The bidders on file: published at the deadline (None before it, and on a failed opening
    only their number)."""
    if op is None or op.bids_on_file is None:
        return {"bids_on_file": None, "bidders": None}
    if op.phase == Phase.FAILED and not op.bids.exists():
        return {"bids_on_file": op.bids_on_file, "bidders": None}
    return {"bids_on_file": op.bids_on_file,
            "bidders": [{"org": str(b.organisation_id), "name": b.organisation.name}
                        for b in op.bids.select_related("organisation")]}


def progress_payload(op: Opening | None) -> dict[str, Any] | None:
    if op is None or op.bids_on_file is None or op.phase == Phase.FAILED:
        return None
    counts = {s.value: 0 for s in OpeningBid.Status}
    for status in op.bids.values_list("status", flat=True):
        counts[status] += 1
    counts["total"] = sum(counts.values())
    return counts


def mine_payload(ob: OpeningBid, lot: Lot) -> dict[str, Any]:
    """A bidder's own bid, as only that bidder (and supervisors) may see it."""
    return {"status": ob.status, "attempts": ob.attempts, "last_error": ob.last_error,
            "platform_error": ob.platform_error, "decrypted_by": ob.decrypted_by,
            "fields": rules.display_fields(ob.values, lot.announced_fields), "problems": ob.problems}


def status_payload(ob: OpeningBid) -> dict[str, Any]:
    """A bid's state for the host and supervisors: no content before the announcement."""
    return {"name": ob.organisation.name, "status": ob.status, "attempts": ob.attempts,
            "last_error": ob.last_error, "platform_error": ob.platform_error,
            "decrypted_by": ob.decrypted_by}


def announcement_entries(op: Opening, lot: Lot) -> list[dict[str, Any]]:
    return [{"org": str(b.organisation_id), "name": b.organisation.name,
             "credit_code": b.organisation.credit_code, "status": b.status,
             "decrypted_by": b.decrypted_by,
             "fields": rules.display_fields(b.values, lot.announced_fields) if b.status == "decrypted" else [],
             "problems": b.problems}
            for b in op.bids.select_related("organisation")]


def objection_payload(o: Objection) -> dict[str, Any]:
    return {"id": o.pk, "org": str(o.organisation_id), "name": o.organisation.name, "text": o.text,
            "raised_at": _t(o.raised_at), "phase": o.phase, "answer": o.answer,
            "answered_at": _t(o.answered_at)}


def chat_payload(m: ChatMessage) -> dict[str, Any]:
    # The org's name travels only on the chat's own streams (that bidder, the host, supervisors),
    # so the host can name whom it answers before the bidders on file are published.
    return {"id": m.pk, "org": str(m.organisation_id), "org_name": m.organisation.name, "from": m.from_role,
            "by": m.sender.get_username(), "text": m.text, "sent_at": _t(m.sent_at)}


def record_payload(op: Opening | None) -> dict[str, Any] | None:
    if op is None or op.record is None:
        return None
    from crypto.gm import SIGNATURE_ALGORITHMS

    return {"hash": op.record_hash, "generated_at": op.record["generated_at"],
            "message": rules.confirmation_message(op.record_hash).decode(),
            "signature_algorithm": SIGNATURE_ALGORITHMS[op.lot.cipher_suite]}


def snapshot(lot_id: int, role: str, org_id: int | None) -> dict[str, Any]:
    lot = Lot.objects.select_related("project").get(pk=lot_id)
    op = Opening.objects.filter(lot=lot).first()
    snap: dict[str, Any] = {
        "you": {"role": role, "org": str(org_id) if org_id is not None else None},
        "lot": {"id": lot.pk, "tender": lot.project.code, "project": lot.project.title, "code": lot.code,
                "title": lot.title, "bid_deadline": _t(lot.bid_deadline),
                "signin_opens_at": _t(lot.signin_opens_at), "min_bids": lot.min_bids,
                "announced_fields": lot.announced_fields},
        "phase": phase_payload(op),
        **bidders_payload(op),
        "progress": progress_payload(op),
        "coefficient": coefficient_payload(op, lot),
        "announcement": op.announcement if op is not None else None,
        "record": record_payload(op),
        "confirmations": {},
        "objections": [],
        "chat": [],
    }
    if role == "bidder":
        ob = (OpeningBid.objects.filter(opening=op, organisation_id=org_id).select_related("organisation").first()
              if op is not None else None)
        snap["mine"] = mine_payload(ob, lot) if ob is not None else None
    if role in HOST_VIEW_ROLES:
        snap["statuses"] = ({str(b.organisation_id): status_payload(b)
                             for b in op.bids.select_related("organisation")} if op is not None else {})
    if op is None:
        return snap
    snap["confirmations"] = {str(c.organisation_id): c.state for c in op.confirmations.all()}
    snap["objections"] = [objection_payload(o) for o in op.objections.select_related("organisation")]
    chat = op.chat.select_related("sender", "organisation")
    if role not in HOST_VIEW_ROLES:
        chat = chat.filter(organisation_id=org_id)
    snap["chat"] = [chat_payload(m) for m in chat]
    return snap


def apply(snap: dict[str, Any], push: dict[str, Any]) -> dict[str, Any]:
    """The client's reducer: the state after one push of the hall."""
    snap = dict(snap)
    event, p = push["event"], push["payload"]
    you = snap["you"]
    if event == "hall.phase":
        snap["phase"] = p["phase"]
    elif event in ("hall.bidders", "hall.progress", "hall.announced", "hall.coefficient", "hall.record"):
        snap.update(p)
    elif event == "hall.my_bid":
        if you["role"] == "bidder" and you["org"] == p["org"]:
            snap["mine"] = p["mine"]
    elif event == "hall.bid_status":
        if "statuses" in snap:
            snap["statuses"] = {**snap["statuses"], p["org"]: p["status"]}
    elif event == "hall.objection":
        rest = [o for o in snap["objections"] if o["id"] != p["objection"]["id"]]
        snap["objections"] = sorted(rest + [p["objection"]], key=lambda o: o["id"])
    elif event == "hall.chat":
        if all(m["id"] != p["message"]["id"] for m in snap["chat"]):
            snap["chat"] = snap["chat"] + [p["message"]]
    elif event == "hall.confirmation":
        snap["confirmations"] = {**snap["confirmations"], p["org"]: p["state"]}
    return snap
