"""The expert draw of a lot (专家抽取) in commit-reveal steps (docs/draw.md).

1. ``do_open_draw``: the host fixes the parameters (quotas, specialties, size, reveal window); the
   platform commits to its own 32-byte value at once (``evaluation.draw.opened``,
   ``evaluation.draw.contribution_committed``).
2. ``do_commit``: the supervisor on duty and the host commit to theirs, each once.
3. ``do_publish_snapshot``: with all three commitments registered, the pool snapshot (experts,
   avoidance inputs, the lot's actual bidders) is fixed and published with its SHA-256; commitments
   are closed, the platform's value is published, the reveal window starts
   (``evaluation.draw.snapshot_published``).
4. ``do_reveal``: the supervisor and the host reveal; a value that does not give its commitment is
   refused. Revealed values stay sealed until the draw is computed.
5. ``do_finish`` (automatic on the last reveal, else after the deadline): the seed from every reveal,
   a withheld one as ``null`` (``rules.draw_seed``), then the committee (``evaluation.draw.drawn``);
   without any reveal besides the platform's the draw lapses (``evaluation.draw.lapsed``).

One draw per lot: another one only through a redraw a supervisor approved (``actions_redraw``).
Expert names appear only in ``draw_view(..., names=True)`` (audited, ``evaluation.expert.viewed``).
"""

from __future__ import annotations

import hashlib
import json
import secrets
from datetime import date, timedelta

from django.db import transaction

from audit.checkpoints import issue_checkpoint
from audit.log import log_action
from bidding.access import can_manage_lot
from bidding.lifecycle import Status as LotStatus
from common.access import role_of
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError

from .inputs import bids_for_evaluation
from .models import Draw, DrawContribution, Expert, Redraw
from .rules import draw as rules_draw
from .rules import draw_seed
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
    bidders = actual_bidders(lot)
    return rules_draw.PoolSnapshot(experts=tuple(experts), bidders=bidders, required_specialties=required,
                                   min_size=min_size)


def actual_bidders(lot) -> tuple[Bidder, ...]:
    """Every organisation with a bid on file at the deadline, with the managers its decrypted bid
    names (an undecrypted bid still counts for the employer and relations checks)."""
    from bidding.models import BidSubmission

    managers: dict[str, set[str]] = {}
    for org_id in BidSubmission.objects.filter(lot=lot, status=BidSubmission.Status.CURRENT).values_list(
            "organisation_id", flat=True):
        managers.setdefault(str(org_id), set())
    for b in bids_for_evaluation(lot):
        managers.setdefault(str(b.bidder_org_id), set()).update(map(str, b.announced.get("managers", [])))
    return tuple(Bidder(org=org, managers=tuple(sorted(names))) for org, names in sorted(managers.items()))


def _no_bidders() -> PlatformError:
    return PlatformError(ErrorCode.INVALID_STATE, "no bidders on file: avoidance would check nothing")


def parse_snapshot(text: str) -> rules_draw.PoolSnapshot:
    return rules_draw.PoolSnapshot.parse(json.loads(text))


DRAW_STATUSES = frozenset({LotStatus.OPENING, LotStatus.EVALUATING})
REVEAL_MINUTES = (1, 24 * 60)


def current_draw(lot) -> Draw | None:
    """The lot's draw that counts: the latest one not superseded by an approved redraw."""
    return Draw.objects.filter(lot=lot).exclude(state=Draw.State.SUPERSEDED).order_by("-pk").first()


def check_can_draw(lot, now) -> Draw | None:
    """No draw before the deadline (the bidders, whom avoidance checks, are known only then), and
    one draw per lot: another one only through an approved redraw of the current one (returned)."""
    if now < lot.bid_deadline:
        raise PlatformError(ErrorCode.DEADLINE_NOT_REACHED, "the committee is drawn after the bid deadline")
    if lot.status not in DRAW_STATUSES:
        raise PlatformError(ErrorCode.INVALID_STATE, "the committee is drawn once the lot is being opened "
                            "or evaluated", details={"status": lot.status})
    current = current_draw(lot)
    if current is None:
        return None
    if not Redraw.objects.filter(draw=current, approved=True).exists():
        raise PlatformError(ErrorCode.CONFLICT, "this lot already has its draw: a redraw needs a reason "
                            "from the rules and a supervisor's approval", details={"draw_id": current.pk})
    return current


def party_of(user, row: Draw) -> str:
    """The party a user contributes as: a supervisor as the supervisor on duty, the lot's host (or an
    administrator) as the host."""
    if role_of(user) == "supervisor":
        return draw_seed.SUPERVISOR
    if can_manage_lot(user, row.lot):
        return draw_seed.HOST
    raise PlatformError(ErrorCode.FORBIDDEN, "only the supervisor on duty and the host contribute to a draw")


def _audit(action: str, row: Draw, call: Call, **data) -> None:
    log_action(action, actor=call.actor, obj=row, tender_id=row.lot_id, now=call.now, data=data)


def _set_state(row: Draw, state: str, call: Call, action: str, **data) -> None:
    old, row.state = row.state, state
    _audit(action, row, call, state={"old": old, "new": state}, **data)


def do_open_draw(lot, *, quotas: dict[str, int], required: dict[str, int], min_size: int,
                 reveal_minutes: int = 30, call: Call) -> Draw:
    """Fix the draw's parameters and register the platform's commitment (step 1)."""
    from bidding.models import Lot

    if isinstance(reveal_minutes, bool) or not isinstance(reveal_minutes, int) or not (
            REVEAL_MINUTES[0] <= reveal_minutes <= REVEAL_MINUTES[1]):
        raise BadRequest("the reveal window is 1 to 1440 minutes", details={"field": "reveal_minutes"})
    # The sizes and quotas are checked now, against an empty pool, so a bad request fails before
    # anyone commits (the pool itself is read only at the snapshot).
    rules_draw.check_inputs(rules_draw.PoolSnapshot(experts=(), bidders=(), required_specialties=required,
                                                    min_size=min_size), quotas)
    with transaction.atomic():
        lot = Lot.objects.select_for_update().get(pk=lot.pk)  # one draw per lot, even when racing
        previous = check_can_draw(lot, call.now)
        if not actual_bidders(lot):
            raise _no_bidders()
        # The pool as it is now must be able to give the committee, so nobody commits to a draw that
        # cannot succeed; the snapshot itself is read later, at step 3.
        rules_draw.check_pool(pool_snapshot(lot, quotas, required=required, min_size=min_size,
                                            today=call.now.date()), quotas)
        if previous is not None:
            _set_state(previous, Draw.State.SUPERSEDED, call, "evaluation.draw.superseded")
            previous.save(update_fields=["state"])
        row = Draw.objects.create(lot=lot, state=Draw.State.COMMITTING, quotas=quotas, redraw_of=previous,
                                  params={"required_specialties": dict(sorted(required.items())),
                                          "min_size": min_size},
                                  reveal_minutes=reveal_minutes, created_by=call.user, created_at=call.now)
        value = secrets.token_bytes(32)
        platform = DrawContribution.objects.create(
            draw=row, party=draw_seed.PLATFORM, commitment=draw_seed.commitment(row.pk, draw_seed.PLATFORM, value),
            value_hex=value.hex(), committed_at=call.now)
        _audit("evaluation.draw.opened", row, call, quotas=quotas, params=row.params, reveal_minutes=reveal_minutes,
               redraw_of=None if previous is None else previous.pk, state={"old": None, "new": row.state})
        _audit("evaluation.draw.contribution_committed", row, call, party=draw_seed.PLATFORM,
               commitment=platform.commitment)
    return row


def _locked(draw_id: int) -> Draw:
    return Draw.objects.select_for_update().select_related("lot", "lot__project").get(pk=draw_id)


def do_commit(draw_id: int, commitment: str, call: Call) -> DrawContribution:
    """The supervisor's or the host's commitment (step 2): once, and only before the snapshot."""
    commitment = draw_seed.parse_hex32(commitment, "commitment").hex()
    with transaction.atomic():
        row = _locked(draw_id)
        party = party_of(call.user, row)
        if row.state != Draw.State.COMMITTING:
            raise PlatformError(ErrorCode.CONFLICT, "the pool snapshot is published: commitments are closed",
                                details={"state": row.state})
        if row.contributions.filter(party=party).exists():
            raise PlatformError(ErrorCode.CONFLICT, "this party has committed already: a commitment cannot "
                                "be changed", details={"party": party})
        contribution = DrawContribution.objects.create(draw=row, party=party, user=call.user,
                                                       commitment=commitment, committed_at=call.now)
        _audit("evaluation.draw.contribution_committed", row, call, party=party, commitment=commitment)
    return contribution


def do_publish_snapshot(draw_id: int, call: Call) -> Draw:
    """Fix and publish the pool snapshot (step 3), once every party has committed."""
    with transaction.atomic():
        row = _locked(draw_id)
        if row.state != Draw.State.COMMITTING:
            raise PlatformError(ErrorCode.CONFLICT, "the snapshot is published already", details={"state": row.state})
        parties = dict(row.contributions.values_list("party", "commitment"))
        missing = [p for p in draw_seed.PARTIES if p not in parties]
        if missing:
            raise PlatformError(ErrorCode.INVALID_STATE, "every party commits before the snapshot is published",
                                details={"missing": missing})
        snapshot = pool_snapshot(row.lot, row.quotas, required=row.params["required_specialties"],
                                 min_size=row.params["min_size"], today=call.now.date())
        if not snapshot.bidders:
            raise _no_bidders()
        row.snapshot = rules_draw.canonical_snapshot(snapshot).decode("utf-8")
        row.snapshot_sha256 = hashlib.sha256(row.snapshot.encode("utf-8")).hexdigest()
        row.snapshot_at, row.reveal_deadline = call.now, call.now + timedelta(minutes=row.reveal_minutes)
        platform = row.contributions.get(party=draw_seed.PLATFORM)
        platform.revealed_at = call.now
        platform.save(update_fields=["revealed_at"])
        _set_state(row, Draw.State.REVEALING, call, "evaluation.draw.snapshot_published",
                   snapshot_sha256=row.snapshot_sha256, commitments=parties, pool=len(snapshot.experts),
                   bidders=len(snapshot.bidders), reveal_deadline=row.reveal_deadline,
                   platform_value=platform.value_hex)
        row.save(update_fields=["snapshot", "snapshot_sha256", "snapshot_at", "reveal_deadline", "state"])
        issue_checkpoint(f"draw {row.pk} snapshot", now=call.now)
    return row


def do_reveal(draw_id: int, value: str, call: Call) -> Draw:
    """The supervisor's or the host's reveal (step 4): after the snapshot, by the deadline, matching
    the commitment. The value stays sealed until the draw is computed; the last reveal computes it."""
    raw = draw_seed.parse_hex32(value, "value")
    with transaction.atomic():
        row = _locked(draw_id)
        party = party_of(call.user, row)
        if row.state == Draw.State.COMMITTING:
            raise PlatformError(ErrorCode.INVALID_STATE, "values are revealed after the snapshot is published")
        if row.state != Draw.State.REVEALING:
            raise PlatformError(ErrorCode.CONFLICT, "the draw is no longer taking reveals", details={"state": row.state})
        if call.now >= row.reveal_deadline:
            raise PlatformError(ErrorCode.DEADLINE_PASSED, "the reveal window has closed: the draw proceeds "
                                "without this contribution")
        contribution = row.contributions.filter(party=party).first()
        if contribution is None:
            raise PlatformError(ErrorCode.CONFLICT, "this party did not commit before the snapshot",
                                details={"party": party})
        if contribution.user_id is not None and contribution.user_id != call.user.pk:
            raise PlatformError(ErrorCode.FORBIDDEN, "the user who committed reveals", details={"party": party})
        if contribution.revealed_at is not None:
            raise PlatformError(ErrorCode.CONFLICT, "this party has revealed already", details={"party": party})
        draw_seed.check_reveal(row.pk, party, raw, contribution.commitment)
        contribution.value_hex, contribution.revealed_at = raw.hex(), call.now
        contribution.save(update_fields=["value_hex", "revealed_at"])
        _audit("evaluation.draw.contribution_revealed", row, call, party=party, commitment=contribution.commitment)
        if not row.contributions.filter(revealed_at__isnull=True).exists():
            _finish(row, call)
    return row


def do_finish(draw_id: int, call: Call) -> Draw:
    """Compute the draw once the reveal window has closed (step 5): withheld values count as ``null``."""
    with transaction.atomic():
        row = _locked(draw_id)
        if row.state != Draw.State.REVEALING:
            raise PlatformError(ErrorCode.CONFLICT, "the draw is not waiting for reveals", details={"state": row.state})
        if call.now < row.reveal_deadline and row.contributions.filter(revealed_at__isnull=True).exists():
            raise PlatformError(ErrorCode.DEADLINE_NOT_REACHED, "the reveal window is still open",
                                details={"reveal_deadline": row.reveal_deadline.isoformat()})
        _finish(row, call)
    return row


def reveal_window_closed(row: Draw, now) -> None:
    """The reveal deadline's timer (``realtime.timers``, field ``reveal_deadline``): compute the draw
    once the window has closed, without the values not revealed. Row lock held."""
    if row.state == Draw.State.REVEALING and now >= row.reveal_deadline:
        _finish(row, Call(user=None, role="system", actor=Actor.system("evaluation.draw"), now=now))


def register_timers() -> None:
    from realtime.timers import register_timer

    register_timer("evaluation.draw_reveals", Draw, reveal_window_closed, field="reveal_deadline",
                   state=Draw.State.REVEALING)


def reveals(row: Draw) -> dict[str, bytes | None]:
    got = {c.party: bytes.fromhex(c.value_hex) for c in row.contributions.all() if c.revealed_at is not None}
    return {p: got.get(p) for p in draw_seed.PARTIES}


def _finish(row: Draw, call: Call) -> None:
    """Row lock held. The seed and the committee, or the lapse when only the platform revealed."""
    values = reveals(row)
    published = {p: None if v is None else v.hex() for p, v in values.items()}
    withheld = [p for p, v in values.items() if v is None]
    row.drawn_at = call.now
    if not draw_seed.enough_reveals(values):
        _set_state(row, Draw.State.LAPSED, call, "evaluation.draw.lapsed", reveals=published, withheld=withheld,
                   reason="reveals_missing")
        row.save(update_fields=["state", "drawn_at"])
        return
    seed = draw_seed.derive_seed(row.pk, row.snapshot_sha256, values)
    row.seed_hex, row.revealed_at = seed.hex(), call.now
    try:
        result = rules_draw.draw(parse_snapshot(row.snapshot), row.quotas, seed)
    except PlatformError as error:  # the pool gives no committee: recorded, never retried in a loop
        _set_state(row, Draw.State.LAPSED, call, "evaluation.draw.lapsed", reveals=published, withheld=withheld,
                   seed=row.seed_hex, reason="pool_too_small", problem=str(error.message))
        row.save(update_fields=["state", "drawn_at", "seed_hex", "revealed_at"])
        return
    row.committee, row.excluded = list(result.committee), {k: list(v) for k, v in result.excluded.items()}
    row.order_per_region = {k: list(v) for k, v in result.order_per_region.items()}
    _set_state(row, Draw.State.DRAWN, call, "evaluation.draw.drawn", reveals=published, withheld=withheld,
               seed=row.seed_hex, size=len(result.committee), excluded=len(result.excluded))
    row.save(update_fields=["state", "drawn_at", "seed_hex", "revealed_at", "committee", "excluded",
                            "order_per_region"])
    issue_checkpoint(f"draw {row.pk} drawn", now=call.now)


def _result(row: Draw) -> rules_draw.Draw:
    return rules_draw.Draw(committee=tuple(row.committee), excluded={k: tuple(v) for k, v in row.excluded.items()},
                           order_per_region={k: tuple(v) for k, v in row.order_per_region.items()},
                           snapshot_sha256=row.snapshot_sha256,
                           replacements=tuple(tuple(r) for r in row.replacements))


def do_decline(draw_id: int, expert_id: str, call: Call) -> Draw:
    with transaction.atomic():
        row = Draw.objects.select_for_update().get(pk=draw_id)
        if row.state != Draw.State.DRAWN:
            raise PlatformError(ErrorCode.INVALID_STATE, "only a drawn committee's members decline")
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


def contributions_view(row: Draw) -> list[dict]:
    """Each party's commitment, and its value once it may be public: the platform's from the snapshot
    on, the others' once the draw is computed (until then a reveal only says that it happened)."""
    final = row.state in (Draw.State.DRAWN, Draw.State.LAPSED, Draw.State.SUPERSEDED)
    out = []
    by_party = {c.party: c for c in row.contributions.all()}
    for party in draw_seed.PARTIES:
        c = by_party.get(party)
        if c is None:
            out.append({"party": party, "commitment": None, "committed_at": None, "revealed": False, "value": None})
            continue
        public = c.revealed_at is not None and (final or party == draw_seed.PLATFORM)
        out.append({"party": party, "commitment": c.commitment, "committed_at": c.committed_at,
                    "revealed": c.revealed_at is not None, "revealed_at": c.revealed_at,
                    "value": c.value_hex if public else None,
                    "withheld": final and c.revealed_at is None})
    return out


def draw_view(row: Draw, *, names: bool, call: Call) -> dict:
    """The draw as the API shows it. With ``names`` (an authorised viewer) the committee's names,
    regions and employers are included and the read is audited."""
    out = {"id": row.pk, "lot_id": row.lot_id, "state": row.state, "quotas": row.quotas, "params": row.params,
           "reveal_minutes": row.reveal_minutes, "reveal_deadline": row.reveal_deadline,
           "snapshot_sha256": row.snapshot_sha256 or None, "snapshot_at": row.snapshot_at,
           "contributions": contributions_view(row), "seed": row.seed_hex or None, "drawn_at": row.drawn_at,
           "redraw_of": row.redraw_of_id, "committee_size": len(row.committee),
           "excluded": len(row.excluded), "replacements": len(row.replacements), "committee": None}
    if names and row.committee:
        experts = {str(e.pk): e for e in Expert.objects.filter(pk__in=[int(i) for i in row.committee])
                   .select_related("user", "region")}
        out["committee"] = [{"expert_id": i, "name": str(experts[i].user), "region": experts[i].region.code,
                             "category": experts[i].category, "title": experts[i].title} for i in row.committee]
        out["excluded_reasons"] = row.excluded
        with transaction.atomic():
            log_action("evaluation.expert.viewed", actor=call.actor, obj=row, tender_id=row.lot_id, now=call.now,
                       data={"what": "draw committee", "experts": list(row.committee)})
    return out
