"""``manage.py exchange_deliver``: push the outbox to the configured endpoints until stopped
(``--once``: one pass over what is due). Safe to run in several processes: each endpoint is pushed
by one at a time (docs/data-exchange.md, docs/operations.md)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand

from common import clock
from exchange.delivery import Sender, deliver_all


class Command(BaseCommand):
    help = "Deliver the outbox's events to the configured endpoints."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass over what is due, then exit")
        parser.add_argument("--idle", type=float, default=0.5, help="seconds to wait when nothing is due")
        parser.add_argument("--batch", type=int, default=100)

    def handle(self, *args, **options):
        sender = Sender()
        try:
            while True:
                done = deliver_all(now=clock.now(), sender=sender, limit=options["batch"])
                if options["once"] and not done:
                    return
                if not done:
                    time.sleep(options["idle"])
        finally:
            sender.close()
