from django.core.management.base import BaseCommand, CommandError

from audit.verify import check_log


class Command(BaseCommand):
    help = ("Recompute the audit log's Merkle tree from every entry, compare it with every signed "
            "checkpoint and stored node, and report the first entry that differs.")

    def handle(self, *args, **options):
        report = check_log()
        self.stdout.write(f"entries checked: {report.entries}; stored nodes checked: {report.nodes}; "
                          f"checkpoints verified: {report.checkpoints}")
        if not report.ok:
            raise CommandError("FAILED: " + "; ".join(report.problems))
        self.stdout.write(self.style.SUCCESS(f"OK: root {report.root.hex()} at size {report.entries}"))
