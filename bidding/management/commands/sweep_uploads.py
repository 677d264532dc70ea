"""``manage.py sweep_uploads``: report (``--dry-run``) or repair what a crash left in the bid
storage (``bidding.sweep``): finish half-done completes, remove orphan and stale files, close lost
uploads; every repair audited. Exits 1 when a submission's file is missing (a platform fault that
no repair can undo), else 0."""

import json
import sys

from django.core.management.base import BaseCommand

from bidding.sweep import sweep
from common import clock


class Command(BaseCommand):
    help = "Find (and unless --dry-run, repair) what a crash left in the bid storage."

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report only; change nothing")
        parser.add_argument("--json", action="store_true", help="the findings as JSON lines")

    def handle(self, *args, dry_run=False, **options):
        report = sweep(clock.now(), repair=not dry_run)
        for f in report.findings:
            if options["json"]:
                self.stdout.write(_json(f))
            else:
                state = "repaired" if f.repaired else ("MISSING" if f.kind == "missing_file" else "found")
                self.stdout.write(f"{f.kind:<20} {state:<8} {f.path} upload={f.upload or '-'} "
                                  f"submission={f.submission or '-'}")
        self.stdout.write(f"{len(report.findings)} finding(s); "
                          f"{sum(f.repaired for f in report.findings)} repaired")
        if report.of("missing_file"):
            sys.exit(1)


def _json(finding) -> str:
    from dataclasses import asdict

    return json.dumps(asdict(finding), ensure_ascii=False)
