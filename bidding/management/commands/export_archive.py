"""``manage.py export_archive``: a tender's archive (``--lot``) or the whole log's (``--all``).

The command lives with the tenders it exports; the archive's format and its writer are the audit
log's (``audit.archive``), and each app adds its sections there (``SECTION_WRITERS``)."""

from django.core.management.base import BaseCommand, CommandError

from audit.archive import export_archive
from bidding.models import Lot


class Command(BaseCommand):
    help = "Export a tender's archive (--lot ID) or the whole audit log (--all) as kaibiao-archive/v2."

    def add_arguments(self, parser):
        scope = parser.add_mutually_exclusive_group(required=True)
        scope.add_argument("--lot", type=int)
        scope.add_argument("--all", action="store_true")
        parser.add_argument("-o", "--output", required=True)

    def handle(self, *args, lot=None, all=False, output, **options):
        target = None
        if lot is not None:
            target = Lot.objects.select_related("project").filter(pk=lot).first()
            if target is None:
                raise CommandError(f"no lot {lot}")
        with open(output, "wb") as out:
            manifest = export_archive(out, lot=target)
        self.stdout.write(f"wrote {output}: {manifest['entries']} entries, tree size "
                          f"{manifest['tree_size']}, {len(manifest['files'])} files")
        self.stdout.write(f"verify offline with: kaibiao-verify {output} --vkey '{manifest['vkey']}'")
