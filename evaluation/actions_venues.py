"""Venue presence and the lock (807: locked and sealed on a failure, continue when restored).

The presence timer (``check_venues``, a ``realtime.timers`` timer on ``EvaluationSession.next_check``,
every ``EVAL_PRESENCE_CHECK_MS``) reads ``realtime.presence`` for each venue room, and the media
patrol's view of the session's media room (``media_lost``). A venue with no expert or staff
connection — or whose audio and video were up and are gone — for ``EVAL_VENUE_DROP_SECONDS`` is *down*: the session locks
(``rules.steps.VenueDown``; no step and no score can change) and every venue is told which venue
and which members are missing. When it is back the session resumes (``VenueUp``) and the lock's
length is recorded. Both are audited and appended to every venue room in the ticker's transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from common.actor import Actor

from . import state as st
from .models import EvaluationSession
from .rules import steps
from .workflow import PRESENT_ROLES, Call, audit, presence_check_seconds, save_state, venue_drop_seconds

MONITORED = frozenset(steps.ORDER[1:-1])  # from the pledge to the signing: all venues must be there


def venue_present(session_id: int, venue_id: int, *, now: datetime) -> bool:
    from realtime.presence import summary

    roles = summary(st.room_key(session_id, venue_id), now=now)["roles"]
    return any(roles.get(r, {}).get("users") for r in PRESENT_ROLES) and not media_lost(session_id, venue_id, now=now)


def media_lost(session_id: int, venue_id: int, *, now: datetime) -> bool:
    """The venue's audio and video were up and are gone (docs/media.md): someone of the venue (its
    staff, its members) sent in the session's media room and nobody of it sends now, as the media
    patrol last saw it. Unknown (no media, no recent patrol) is not lost."""
    from realtime.media_patrol import media_senders

    from .models import Member, Venue

    seen = media_senders(f"eval-{session_id}", now=now)
    if seen is None:
        return False
    sending, ever = seen
    people = set(Venue.objects.get(pk=venue_id).staff.values_list("pk", flat=True))
    people |= set(Member.objects.filter(session_id=session_id, venue_id=venue_id)
                  .values_list("expert__user_id", flat=True))
    return bool(people & ever) and not people & sending


def check_venues(session: EvaluationSession, now: datetime) -> None:
    """The presence timer (``realtime.timers``; row locked by the ticker): a venue with no expert
    or staff connection for ``EVAL_VENUE_DROP_SECONDS`` locks the session; its return unlocks it."""
    session.next_check = now + timedelta(seconds=presence_check_seconds())
    state = st.load_state(session.state)
    if state.step == steps.Step.DONE:
        session.next_check = None
    session.save(update_fields=["next_check"])
    if state.step not in MONITORED:
        return
    system = Call(user=None, role="system", actor=Actor.system("evaluation.presence"), now=now)
    for sv in session.venues.select_related("venue").order_by("venue_id"):
        present = venue_present(session.pk, sv.venue_id, now=now)
        key = str(sv.venue_id)
        if present:
            if sv.absent_since is not None:
                sv.absent_since = None
                sv.save(update_fields=["absent_since"])
            if sv.down:
                sv.down = False
                sv.save(update_fields=["down"])
                before = state
                state = steps.advance(state, steps.VenueUp(venue=key), now=now)
                save_state(session, state)
                lock = state.locks[-1]
                resumed = not state.locked
                seconds = (now - lock.started_at).total_seconds() if resumed else None
                audit(session, "evaluation.venue.up", system, venue=sv.venue_id, resumed=resumed,
                      lock_seconds=seconds, was_missing=sorted(before.missing_venues))
                st.broadcast(session, "eval.venue_up",
                             st.session_patch(session) + [(["venues"], st.section_venues(session))],
                             now=now, venue=sv.venue_id, resumed=resumed, lock_seconds=seconds)
            continue
        if sv.absent_since is None:
            sv.absent_since = now
            sv.save(update_fields=["absent_since"])
        if not sv.down and (now - sv.absent_since).total_seconds() >= venue_drop_seconds():
            sv.down = True
            sv.save(update_fields=["down"])
            state = steps.advance(state, steps.VenueDown(venue=key), now=now)
            save_state(session, state)
            missing = list(session.members.filter(venue_id=sv.venue_id).order_by("code")
                           .values_list("code", flat=True))
            audit(session, "evaluation.venue.down", system, venue=sv.venue_id,
                  absent_since=sv.absent_since, missing_members=missing)
            st.broadcast(session, "eval.venue_down",
                         st.session_patch(session) + [(["venues"], st.section_venues(session))],
                         now=now, venue=sv.venue_id, venue_name=sv.venue.name, missing_members=missing)


def register_timers() -> None:
    from realtime.timers import register_timer

    from . import actions_report

    register_timer("evaluation.venues", EvaluationSession, check_venues)
    register_timer("evaluation.signing", EvaluationSession, actions_report.signing_time_over,
                   field="signing_check", deadline=True)


