"""The expert draw of a lot (专家抽取), verifiable (``rules/draw.py``).

``do_create_draw`` records the pool snapshot (canonical JSON and its SHA-256) and the seed's
commitment (``evaluation.draw.committed``) before it computes the committee
(``evaluation.draw.drawn``); the seed itself stays in the row, never shown, until the host reveals it
(``do_reveal_seed``) — then anyone can recompute the committee with ``rules.draw.verify_draw``.
The seed is 32 bytes from the operating system's CSPRNG. A drawn expert who declines is replaced by
``do_decline`` (``rules.draw.replace_declined``), recorded and replayed by the verifier.

Expert names appear only in ``draw_view(..., names=True)``, which the API gives to the users
``evaluation.access.can_see_expert_names`` allows, and every such read is audited
(``evaluation.expert.viewed``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date

from django.db import transaction

from audit.checkpoints import issue_checkpoint
from audit.log import log_action
from bidding.lifecycle import Status as LotStatus
from common.errors import ErrorCode, PlatformError

from .inputs import bids_for_evaluation
from .models import Draw, Expert
from .rules import draw as rules_draw
from .rules.committee import Bidder, PoolExpert
from .workflow import Call


def pool_snapshot(lot, quotas: dict[str, int], *, required: dict[str, int], min_size: int,
                  today: date) -> rules_draw.PoolSnapshot:
    """The pool of the quota regions, with everything avoidance depends on, as of ``today``."""
    experts = []
    for e in Expert.objects.filter(region__code__in=list(quotas)).select_related("region", "employer"):
        relations = e.declared_relations or []
        experts.append(PoolExpert(
            id=str(e.pk), region=e.region.code, category=e.category,
            specialties=tuple(sorted(set(e.specialties or []))),
            employer=None if e.employer_id is None else str(e.employer_id),
            related_orgs=tuple(sorted({str(r["org"]) for r in relations if isinstance(r, dict) and "org" in r})),
            related_people=tuple(sorted({str(r["person"]) for r in relations
                                         if isinstance(r, dict) and "person" in r})),
            authority_staff=e.employer is not None and e.employer.kind == "supervisory",
            penalised=e.penalised_until is not None and e.penalised_until >= today,
            available=e.available))
    # The actual bidders: every organisation with a bid on file at the deadline, with the managers
    # its decrypted bid names (an undecrypted bid still counts for the employer and relations checks).
    from bidding.models import BidSubmission

    managers: dict[str, set[str]] = {}
    for org_id in BidSubmission.objects.filter(lot=lot, status=BidSubmission.Status.CURRENT).values_list(
            "organisation_id", flat=True):
        managers.setdefault(str(org_id), set())
    for b in bids_for_evaluation(lot):
        managers.setdefault(str(b.bidder_org_id), set()).update(map(str, b.announced.get("managers", [])))
    bidders = tuple(Bidder(org=org, managers=tuple(sorted(names))) for org, names in sorted(managers.items()))
    return rules_draw.PoolSnapshot(experts=tuple(experts), bidders=bidders, required_specialties=required,
                                   min_size=min_size)


def parse_snapshot(text: str) -> rules_draw.PoolSnapshot:
    return rules_draw.PoolSnapshot.parse(json.loads(text))


DRAW_STATUSES = frozenset({LotStatus.OPENING, LotStatus.EVALUATING})


def check_can_draw(lot, now) -> None:
    """No draw before the deadline (the bidders, whom avoidance checks, are known only then), and
    one draw per lot: a second one only through an approved redraw."""
    if now < lot.bid_deadline:
        raise PlatformError(ErrorCode.DEADLINE_NOT_REACHED, "the committee is drawn after the bid deadline")
    if lot.status not in DRAW_STATUSES:
        raise PlatformError(ErrorCode.INVALID_STATE, "the committee is drawn once the lot is being opened "
                            "or evaluated", details={"status": lot.status})
    if Draw.objects.filter(lot=lot).exists():
        raise PlatformError(ErrorCode.CONFLICT, "this lot already has its draw: a redraw needs a reason "
                            "from the rules and a supervisor's approval")


def do_create_draw(lot, *, quotas: dict[str, int], required: dict[str, int], min_size: int, call: Call) -> Draw:
    from bidding.models import Lot

    with transaction.atomic():
        lot = Lot.objects.select_for_update().get(pk=lot.pk)  # one draw per lot, even when racing
        check_can_draw(lot, call.now)
        snapshot = pool_snapshot(lot, quotas, required=required, min_size=min_size, today=call.now.date())
        if not snapshot.bidders:
            raise PlatformError(ErrorCode.INVALID_STATE, "no bidders on file: avoidance would check nothing")
        canonical = rules_draw.canonical_snapshot(snapshot).decode("utf-8")
        seed = secrets.token_bytes(32)
        row = Draw.objects.create(lot=lot, snapshot=canonical, snapshot_sha256=hashlib.sha256(
            canonical.encode()).hexdigest(), quotas=quotas, seed_commitment=rules_draw.commit(seed),
            seed_hex=seed.hex(), created_by=call.user, created_at=call.now)
        # Recorded before the committee exists: the snapshot and the commitment bind the draw.
        log_action("evaluation.draw.committed", actor=call.actor, obj=row, tender_id=lot.pk, now=call.now,
                   data={"snapshot_sha256": row.snapshot_sha256, "seed_commitment": row.seed_commitment,
                         "quotas": quotas, "pool": len(snapshot.experts)})
        issue_checkpoint(f"draw {row.pk} committed", now=call.now)
    with transaction.atomic():
        row = Draw.objects.select_for_update().get(pk=row.pk)
        result = rules_draw.draw(parse_snapshot(row.snapshot), quotas, seed)
        row.committee, row.excluded = list(result.committee), {k: list(v) for k, v in result.excluded.items()}
        row.order_per_region = {k: list(v) for k, v in result.order_per_region.items()}
        row.save(update_fields=["committee", "excluded", "order_per_region"])
        log_action("evaluation.draw.drawn", actor=call.actor, obj=row, tender_id=lot.pk, now=call.now,
                   data={"size": len(result.committee), "excluded": len(result.excluded)})
        issue_checkpoint(f"draw {row.pk} drawn", now=call.now)
    return row


def _result(row: Draw) -> rules_draw.Draw:
    return rules_draw.Draw(committee=tuple(row.committee), excluded={k: tuple(v) for k, v in row.excluded.items()},
                           order_per_region={k: tuple(v) for k, v in row.order_per_region.items()},
                           snapshot_sha256=row.snapshot_sha256,
                           replacements=tuple(tuple(r) for r in row.replacements))


def do_decline(draw_id: int, expert_id: str, call: Call) -> Draw:
    with transaction.atomic():
        row = Draw.objects.select_for_update().get(pk=draw_id)
        if hasattr(row, "session"):
            raise PlatformError(ErrorCode.INVALID_STATE, "the session has started: replace through the session")
        result = rules_draw.replace_declined(parse_snapshot(row.snapshot), row.quotas, _result(row), str(expert_id))
        row.committee = list(result.committee)
        row.replacements = [list(r) for r in result.replacements]
        row.declined = row.declined + [str(expert_id)]
        row.save(update_fields=["committee", "replacements", "declined"])
        log_action("evaluation.draw.declined", actor=call.actor, obj=row, tender_id=row.lot_id, now=call.now,
                   data={"declined": str(expert_id), "replacement": result.replacements[-1][1]})
    return row


def do_reveal_seed(draw_id: int, call: Call) -> Draw:
    with transaction.atomic():
        row = Draw.objects.select_for_update().get(pk=draw_id)
        if row.revealed_at is None:
            row.revealed_at = call.now
            row.save(update_fields=["revealed_at"])
            log_action("evaluation.draw.revealed", actor=call.actor, obj=row, tender_id=row.lot_id, now=call.now,
                       data={"seed": row.seed_hex, "seed_commitment": row.seed_commitment})
    return row


def verify(row: Draw) -> None:
    """Recompute the committee from the snapshot, quotas and the revealed seed (``CONFLICT`` if not)."""
    if row.revealed_at is None:
        raise PlatformError(ErrorCode.INVALID_STATE, "the seed is not revealed yet")
    rules_draw.verify_draw(parse_snapshot(row.snapshot), row.quotas, bytes.fromhex(row.seed_hex),
                           row.seed_commitment, row.committee, declined=row.declined)


def draw_view(row: Draw, *, names: bool, call: Call) -> dict:
    """The draw as the API shows it. With ``names`` (an authorised viewer) the committee's names,
    regions and employers are included and the read is audited."""
    out = {"id": row.pk, "lot_id": row.lot_id, "quotas": row.quotas, "snapshot_sha256": row.snapshot_sha256,
           "seed_commitment": row.seed_commitment, "seed": row.seed_hex if row.revealed_at else None,
           "revealed_at": row.revealed_at, "committee_size": len(row.committee),
           "excluded": len(row.excluded), "replacements": len(row.replacements), "committee": None}
    if names:
        experts = {str(e.pk): e for e in Expert.objects.filter(pk__in=[int(i) for i in row.committee])
                   .select_related("user", "region")}
        out["committee"] = [{"expert_id": i, "name": str(experts[i].user), "region": experts[i].region.code,
                             "category": experts[i].category, "title": experts[i].title} for i in row.committee]
        out["excluded_reasons"] = row.excluded
        with transaction.atomic():
            log_action("evaluation.expert.viewed", actor=call.actor, obj=row, tender_id=row.lot_id, now=call.now,
                       data={"what": "draw committee", "experts": list(row.committee)})
    return out
