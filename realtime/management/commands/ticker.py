"""``manage.py ticker``: apply overdue timers and purge stale presence, in a loop (``--once``: one
round). Run one or more next to the workers; they share the work through row locks.

Deadlines are the server's clock: while the clock is known to be unsynchronised beyond
``CLOCK_MAX_OFFSET_MS`` (``common.clocksync``), the deadline timers (the bid deadline, sign-in,
the decryption window, the report's signing time) are held — they stay due and apply once the clock
is back — while the others (the audit sequencer, the console feed, presence) go on. The first round
that holds them logs an error and writes ``realtime.clock.unsynchronised`` to the audit log (a
critical console alert); the first round after, ``realtime.clock.resynchronised``.

When the platform's signing key cannot sign (its HSM is away: ``SigningUnavailable``), a timer
that checkpoints (an opening's deadline, a window, an evaluation step) rolls back and stays due;
the ticker goes on with the others, and its first such round logs an error and writes
``realtime.signing.unavailable`` (a critical console alert) — once, however many rounds fail.
Each round retries (the key resets the token's module), so when the token is back the next round's
checkpoints sign, and the first round without a signing failure writes ``realtime.signing.restored``.
The round hooks (``realtime.timers.register_round_hook``: a bid whose completion waits for the
platform's signature, ``bidding.pending_ticker``) run first in each round and report the same way."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from common import clock, clocksync, metrics
from common.actor import Actor
from crypto.signing import SigningUnavailable

log = logging.getLogger("realtime.ticker")
SIGNING_UNAVAILABLE = "realtime.signing.unavailable"  # a critical console alert (audit/alerts.py)
SIGNING_RESTORED = "realtime.signing.restored"


class ClockWatch:
    """Turns the clock's state into held deadlines, with one audited alert per change."""

    def __init__(self):
        self.holding = False

    def check(self, now) -> bool:
        state = clocksync.current()
        if state.hold_deadlines != self.holding:
            self.holding = state.hold_deadlines
            self._record(state, now)
        if self.holding:
            metrics.TIMERS_HELD.inc()
        return self.holding

    def _record(self, state: clocksync.ClockState, now) -> None:
        action = "realtime.clock.unsynchronised" if self.holding else "realtime.clock.resynchronised"
        if self.holding:
            log.error("the clock is unsynchronised (%s, offset %s ms, allowed %s ms): deadlines held",
                      state.detail or state.source, state.offset_ms, state.max_offset_ms)
        else:
            log.warning("the clock is synchronised again (%s): deadlines applied", state.source)
        _record(action, now, state.as_dict())  # the hold itself does not depend on the log


def _record(action: str, now, data: dict) -> None:
    from realtime.audit_hook import audit

    try:
        with transaction.atomic():
            audit(action, actor=Actor.system("ticker"), now=now, data=data)
    except Exception:  # noqa: BLE001 - the ticker goes on even if the log cannot take it
        log.exception("could not record %s", action)


class SigningWatch:
    """One audited alert when timers fail because the platform cannot sign, one when it signs again.
    ``failed`` is ``run_due_timers``'s ``on_error``; ``end_round`` runs after each round."""

    def __init__(self):
        self.unavailable = False
        self._failed: dict[str, str] = {}

    def failed(self, timer: str, exc: Exception) -> None:
        if isinstance(exc, SigningUnavailable):
            self._failed.setdefault(timer, str(exc)[:300])

    def end_round(self, now, *, held: bool = False) -> None:
        failed, self._failed = self._failed, {}
        if failed and not self.unavailable:
            self.unavailable = True
            log.error("the platform cannot sign (%s): checkpoints wait, timers %s stay due",
                      next(iter(failed.values())), ", ".join(sorted(failed)))
            _record(SIGNING_UNAVAILABLE, now,
                    {"timers": sorted(failed), "detail": next(iter(failed.values()))})
        elif self.unavailable and not failed and not held:
            # A round whose retried timers all went through: their checkpoints were signed.
            self.unavailable = False
            log.warning("the platform signs again: the timers that waited are applied")
            _record(SIGNING_RESTORED, now, {})


class Command(BaseCommand):
    help = "Apply overdue room timers exactly once (safe with several tickers)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds")

    def handle(self, *args, once=False, interval=None, **options):
        from realtime.presence import purge_stale
        from realtime.timers import run_due_timers

        interval = settings.RT_TICKER_SECONDS if interval is None else interval
        watch, signing = ClockWatch(), SigningWatch()
        rounds = 0
        while True:
            now = clock.now()
            hold = watch.check(now)
            applied = run_due_timers(now, hold_deadlines=hold, on_error=signing.failed)
            signing.end_round(now, held=hold)
            if rounds % 20 == 0:
                purge_stale(now=now)
            rounds += 1
            metrics.TICKER_HEARTBEAT.set(time.time())
            if once:
                self.stdout.write(f"applied {applied}" + (" (deadlines held: clock unsynchronised)" if hold else ""))
                return
            time.sleep(interval)
