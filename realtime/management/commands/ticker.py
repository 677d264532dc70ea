"""``manage.py ticker``: apply overdue timers and purge stale presence, in a loop (``--once``: one
round). Run one or more next to the workers; they share the work through row locks.

Deadlines are the server's clock: while the clock is known to be unsynchronised beyond
``CLOCK_MAX_OFFSET_MS`` (``common.clocksync``), the deadline timers (the bid deadline, sign-in,
the decryption window, the report's signing time) are held — they stay due and apply once the clock
is back — while the others (the audit sequencer, the console feed, presence) go on. The first round
that holds them logs an error and writes ``realtime.clock.unsynchronised`` to the audit log (a
critical console alert); the first round after, ``realtime.clock.resynchronised``."""

import logging
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from common import clock, clocksync, metrics
from common.actor import Actor

log = logging.getLogger("realtime.ticker")


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
        from realtime.audit_hook import audit

        action = "realtime.clock.unsynchronised" if self.holding else "realtime.clock.resynchronised"
        if self.holding:
            log.error("the clock is unsynchronised (%s, offset %s ms, allowed %s ms): deadlines held",
                      state.detail or state.source, state.offset_ms, state.max_offset_ms)
        else:
            log.warning("the clock is synchronised again (%s): deadlines applied", state.source)
        try:
            with transaction.atomic():
                audit(action, actor=Actor.system("ticker"), now=now, data=state.as_dict())
        except Exception:  # noqa: BLE001 - the hold itself must not depend on the log
            log.exception("could not record %s", action)


class Command(BaseCommand):
    help = "Apply overdue room timers exactly once (safe with several tickers)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds")

    def handle(self, *args, once=False, interval=None, **options):
        from realtime.presence import purge_stale
        from realtime.timers import run_due_timers

        interval = settings.RT_TICKER_SECONDS if interval is None else interval
        watch = ClockWatch()
        rounds = 0
        while True:
            now = clock.now()
            hold = watch.check(now)
            applied = run_due_timers(now, hold_deadlines=hold)
            if rounds % 20 == 0:
                purge_stale(now=now)
            rounds += 1
            metrics.TICKER_HEARTBEAT.set(time.time())
            if once:
                self.stdout.write(f"applied {applied}" + (" (deadlines held: clock unsynchronised)" if hold else ""))
                return
            time.sleep(interval)
