"""The hall's phase actions: the ticker's transitions (sign-in, the deadline, the windows), the
host's moves (start decryption, pause, resume, draw the coefficient, start the confirmation), the
classification of undecrypted bids and the announcement (唱标).

Every action locks the ``Opening`` row first (so one change at a time per hall), changes it,
appends its room events, writes its audit entry (``bidding.opening.*``) and, at a phase change,
issues a checkpoint — all in one transaction. ``do_*`` assume that lock is held.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from django.db import transaction

from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError
from realtime.audience import to_org, to_role
from realtime.log import lock_room

from ..lifecycle import Status as LotStatus
from ..models import BidSubmission, Lot, Opening, OpeningBid
from ..phases import Command, Event, Phase
from . import rules, views
from .moves import audit, check, do_move, emit, lock_opening, notify_bid
from .record import do_close


def _ensure_opening(lot: Lot, now: datetime) -> Opening:
    op, _ = Opening.objects.get_or_create(lot=lot, defaults={"created_at": now, "updated_at": now})
    return Opening.objects.select_for_update(of=("self",)).select_related("lot", "lot__project").get(pk=op.pk)


# --- Ticker transitions ---------------------------------------------------------------------------

def on_signin_opens(lot: Lot, now: datetime) -> None:
    """Timer: sign-in opens (the lot row is locked by the ticker)."""
    op = _ensure_opening(lot, now)
    if op.phase == Phase.SCHEDULED and lot.bid_deadline > now:
        do_move(op, Event.SIGNIN_OPENS, actor=Actor.system("ticker"), now=now)


def on_deadline(lot: Lot, now: datetime) -> None:
    """Timer: the deadline (= the opening time). Voids unfinished uploads — and waits, without a
    change, while a completion asked for in time is pending (``bidding.pending``) —, counts the bids on file,
    fails the opening (流标) below the tender's minimum, else publishes the bidders on file, commits
    to the coefficient's seed and starts decryption (unless the host paused the hall)."""
    from .. import pending
    from ..submissions import expire_uploads

    actor = Actor.system("ticker")
    op = _ensure_opening(lot, now)
    expire_uploads(now)
    try:  # a bid whose completion waits for the platform's signature is not lost: the opening waits
        pending.check_none_pending(lot)
    except PlatformError as exc:
        pending.hold_opening(lot, exc, now)  # the lot stays due: applied once they are done
        return
    subs = list(BidSubmission.objects.filter(lot=lot, status=BidSubmission.Status.CURRENT)
                .select_related("organisation").order_by("received_at", "id"))
    op.bids_on_file = len(subs)
    do_move(op, Event.DEADLINE, actor=actor, now=now, bids_on_file=len(subs), min_bids=lot.min_bids)
    if op.phase == Phase.FAILED:
        lot.status = LotStatus.FAILED  # 实施条例 44: no opening; the tender is re-tendered
        lot.save(update_fields=["status"])
        emit(op, "hall.bidders", views.bidders_payload(op), now=now)
        audit(op, "failed", actor, now, bids_on_file=len(subs), min_bids=lot.min_bids)
        return
    lot.status = LotStatus.OPENING
    lot.save(update_fields=["status"])
    for sub in subs:
        OpeningBid.objects.create(opening=op, submission=sub, organisation=sub.organisation)
    if views.coefficient_enabled(lot):
        seed = secrets.token_bytes(32)
        op.coefficient_seed, op.coefficient_commitment = seed.hex(), rules.coefficient_commitment(seed)
        op.save(update_fields=["coefficient_seed", "coefficient_commitment"])
    emit(op, "hall.bidders", {**views.bidders_payload(op), "progress": views.progress_payload(op),
                              "coefficient": views.coefficient_payload(op, lot)}, now=now)
    for ob in op.bids.select_related("organisation"):
        emit(op, "hall.my_bid", {"org": str(ob.organisation_id), "mine": views.mine_payload(ob, lot)},
             audience=to_org(ob.organisation_id), now=now)
        emit(op, "hall.bid_status", {"org": str(ob.organisation_id), "status": views.status_payload(ob)},
             audience=to_role("host"), now=now)
    audit(op, "bidders_published", actor, now, bidders=[s.organisation_id for s in subs],
          submissions=[str(s.pk) for s in subs], coefficient_commitment=op.coefficient_commitment)
    if not op.paused:  # decryption starts by itself at the deadline (docs/opening.md)
        do_move(op, Event.START_DECRYPTION, actor=actor, now=now, decryption_window=lot.decryption_window)


def on_window(op: Opening, now: datetime) -> None:
    """Timer: the running window (decryption or confirmation) closed."""
    actor = Actor.system("ticker")
    op = lock_opening(op.lot_id)
    due = op.state().next_due()
    if due is None or due > now:
        op.next_check = due
        op.save(update_fields=["next_check"])
        return
    if op.phase == Phase.DECRYPTING:
        do_classify(op, actor=actor, now=now)
        do_move(op, Event.DECRYPTION_WINDOW_CLOSED, actor=actor, now=now)
        do_announce(op, actor=actor, now=now)
    elif op.phase == Phase.CONFIRMING:
        do_close(op, actor=actor, now=now)


# --- Decryption's end and the announcement --------------------------------------------------------

def do_classify(op: Opening, *, actor: Actor, now: datetime) -> None:
    """Classify every bid still pending when the window closes (电子招标投标办法 31): a platform
    fault recorded against it → withdrawn (撤回); otherwise the bidder's fault → revoked (撤销)."""
    for ob in op.bids.select_related("organisation", "submission").filter(status=OpeningBid.Status.PENDING):
        ob.status = OpeningBid.Status.WITHDRAWN if ob.platform_error else OpeningBid.Status.REVOKED
        ob.classified_at = now
        ob.save(update_fields=["status", "classified_at"])
        notify_bid(op, ob, now=now)
        audit(op, f"bid_{ob.status}", actor, now, organisation=ob.organisation_id,
              submission=str(ob.submission_id), platform_error=ob.platform_error,
              last_error=ob.last_error, attempts=ob.attempts)


def do_announce(op: Opening, *, actor: Actor, now: datetime) -> None:
    """唱标: names, prices and the other announced fields with each bid's status, to everyone."""
    op.announcement = views.announcement_entries(op, op.lot)
    op.save(update_fields=["announcement"])
    emit(op, "hall.announced", {"announcement": op.announcement}, now=now)
    audit(op, "announced", actor, now, announcement=op.announcement)


def maybe_all_decrypted(op: Opening, *, actor: Actor, now: datetime) -> None:
    if op.phase == Phase.DECRYPTING and not op.paused and \
            not op.bids.filter(status=OpeningBid.Status.PENDING).exists():
        do_move(op, Event.ALL_CLASSIFIED, actor=actor, now=now)
        do_announce(op, actor=actor, now=now)


# --- The host's moves ------------------------------------------------------------------------------

def pause(lot_id: int, actor: Actor, *, role: str, reason: str, now: datetime) -> dict:
    if not isinstance(reason, str) or not 0 < len(reason.strip()) <= 500:
        raise BadRequest("a pause states its reason (1 to 500 characters)")
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.PAUSE)
        do_move(op, Event.PAUSE, actor=actor, now=now, reason=reason)
        return views.phase_payload(op)


def resume(lot_id: int, actor: Actor, *, role: str, now: datetime) -> dict:
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.RESUME)
        do_move(op, Event.RESUME, actor=actor, now=now)
        # Bids may all have been decrypted (or recovered) while paused: the announcement follows.
        maybe_all_decrypted(op, actor=actor, now=now)
        return views.phase_payload(op)


def start_decryption(lot_id: int, actor: Actor, *, role: str, now: datetime) -> dict:
    """The host starts decryption when the hall was paused at the deadline and resumed since."""
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.START_DECRYPTION)
        do_move(op, Event.START_DECRYPTION, actor=actor, now=now, decryption_window=op.lot.decryption_window)
        return views.phase_payload(op)


def draw_coefficient(lot_id: int, actor: Actor, *, role: str, now: datetime) -> dict:
    """The host draws the tender's coefficient live: the seed committed at the deadline is revealed
    and the value is ``rules.coefficient_value(seed, ...)``, which anyone can recompute."""
    with transaction.atomic():
        op = lock_opening(lot_id)
        check(op, role, Command.DRAW_COEFFICIENT)
        if not views.coefficient_enabled(op.lot) or not op.coefficient_seed:
            raise PlatformError(ErrorCode.INVALID_STATE, "this tender draws no coefficient")
        if op.coefficient_drawn_at is not None:
            raise PlatformError(ErrorCode.INVALID_STATE, "the coefficient is drawn already")
        k_min, k_max, step = rules.coefficient_range(op.lot.evaluation_settings)
        value = rules.coefficient_value(bytes.fromhex(op.coefficient_seed), k_min, k_max, step)
        op.coefficient_value, op.coefficient_drawn_at = str(value), now
        op.save(update_fields=["coefficient_value", "coefficient_drawn_at"])
        lock_room(views.room_key(op.lot_id), now=now)
        payload = views.coefficient_payload(op, op.lot)
        emit(op, "hall.coefficient", {"coefficient": payload}, now=now)
        audit(op, "coefficient_drawn", actor, now, **payload)
        return payload
