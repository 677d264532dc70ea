import json

from django.core.management.base import BaseCommand, CommandError

from audit.sequencer import STALE_SECONDS, pending_count, stale_pending
from audit.verify import check_log


class Command(BaseCommand):
    help = ("Recompute the audit log from every entry — leaf hashes, every displayed column, stored "
            "subtree hashes, the head — and compare it with every signed checkpoint and checkpoint "
            "record; list every finding and exit non-zero on any. Also fails when committed entries "
            "have waited for an index longer than --stale-after seconds (batched sequencing with no "
            "sequencer running).")

    def add_arguments(self, parser):
        parser.add_argument("--stale-after", type=float, default=STALE_SECONDS,
                            help=f"seconds a pending entry may wait (default {STALE_SECONDS:g})")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args, stale_after=STALE_SECONDS, json=False, **options):
        report = check_log()
        stale, oldest = stale_pending(stale_after)
        if stale:
            report.add("pending_stale", f"{stale} committed entries have waited more than "
                                        f"{stale_after:g} s for their index (oldest {oldest:.1f} s): "
                                        "no sequencer is running — start `manage.py ticker`")
        if json:
            self.stdout.write(_json.dumps({**report.as_dict(), "pending": pending_count()},
                                          ensure_ascii=False, sort_keys=True))
            if not report.ok:
                raise CommandError(f"FAILED: {len(report.problems) + report.more} problems")
            return
        self.stdout.write(f"entries checked: {report.entries}; stored nodes checked: {report.nodes}; "
                          f"checkpoints verified: {report.checkpoints} ({report.records} recorded in "
                          f"the log, {report.unnumbered} issued before records); "
                          f"pending (not yet sequenced): {pending_count()}")
        for problem in report.problems:
            self.stdout.write(f"PROBLEM [{problem.code}] {problem.message}")
        if report.more:
            self.stdout.write(f"... and {report.more} more problems")
        if not report.ok:
            raise CommandError(f"FAILED: {len(report.problems) + report.more} problems; the first: "
                               f"{report.problems[0].message}")
        self.stdout.write(self.style.SUCCESS(f"OK: root {report.root.hex()} at size {report.entries}"))


_json = json
