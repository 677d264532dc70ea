from django.core.management.base import BaseCommand, CommandError

from audit.sequencer import STALE_SECONDS, pending_count, stale_pending
from audit.verify import check_log


class Command(BaseCommand):
    help = ("Recompute the audit log's Merkle tree from every entry, compare it with every signed "
            "checkpoint and stored node, and report the first entry that differs. Also fails when "
            "committed entries have waited for an index longer than --stale-after seconds "
            "(batched sequencing with no sequencer running).")

    def add_arguments(self, parser):
        parser.add_argument("--stale-after", type=float, default=STALE_SECONDS,
                            help=f"seconds a pending entry may wait (default {STALE_SECONDS:g})")

    def handle(self, *args, stale_after=STALE_SECONDS, **options):
        report = check_log()
        self.stdout.write(f"entries checked: {report.entries}; stored nodes checked: {report.nodes}; "
                          f"checkpoints verified: {report.checkpoints}; "
                          f"pending (not yet sequenced): {pending_count()}")
        if not report.ok:
            raise CommandError("FAILED: " + "; ".join(report.problems))
        self.stdout.write(self.style.SUCCESS(f"OK: root {report.root.hex()} at size {report.entries}"))
        stale, oldest = stale_pending(stale_after)
        if stale:
            raise CommandError(
                f"FAILED: {stale} committed entries have waited more than {stale_after:g} s for their "
                f"index (oldest {oldest:.1f} s): no sequencer is running — start `manage.py ticker`")
