"""``manage.py ticker``: apply overdue timers and purge stale presence, in a loop (``--once``: one
round). Run one or more next to the workers; they share the work through row locks."""

import time

from django.conf import settings
from django.core.management.base import BaseCommand

from common import clock, metrics


class Command(BaseCommand):
    help = "Apply overdue room timers exactly once (safe with several tickers)."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one round, then exit")
        parser.add_argument("--interval", type=float, default=None, help="seconds between rounds")

    def handle(self, *args, once=False, interval=None, **options):
        from realtime.presence import purge_stale
        from realtime.timers import run_due_timers

        interval = settings.RT_TICKER_SECONDS if interval is None else interval
        rounds = 0
        while True:
            now = clock.now()
            applied = run_due_timers(now)
            if rounds % 20 == 0:
                purge_stale(now=now)
            rounds += 1
            metrics.TICKER_HEARTBEAT.set(time.time())
            if once:
                self.stdout.write(f"applied {applied}")
                return
            time.sleep(interval)
