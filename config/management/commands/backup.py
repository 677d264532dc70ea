"""``manage.py backup ARCHIVE``: the database (``pg_dump -Fc``) and the stored files in one archive
with a signed manifest of hashes (``config/backup.py``; docs/operations.md, "Backups")."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from audit.keys import platform_signing_key
from audit.models import AuditHead
from common import clock
from config.backup import BackupError, Database, create
from crypto.signing import SigningUnavailable


class Command(BaseCommand):
    help = "Back up the database and the stored envelopes into one archive with a signed manifest."

    def add_arguments(self, parser):
        parser.add_argument("archive", help="the archive to write (e.g. /backups/kaibiao-2026-12-03.tar)")

    def handle(self, *args, archive, **options):
        out = Path(archive)
        if out.exists():
            raise CommandError(f"{out} exists: a backup never overwrites one")
        head = AuditHead.objects.filter(pk=1).values_list("size", flat=True).first() or 0
        try:
            manifest = create(out, database=Database.of(connections["default"].settings_dict),
                              storage_dir=Path(settings.STORAGE_DIR), signing_key=platform_signing_key(),
                              origin=settings.AUDIT_ORIGIN, audit_size=head, now=clock.now())
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        except SigningUnavailable as exc:
            # The manifest is signed before anything is written: no archive, no partial file.
            raise CommandError(f"no backup written: the platform's signing key cannot sign now ({exc}); "
                               "try again once it is back") from None
        self.stdout.write(f"backup written to {out}: database ({manifest['database']['size']} bytes, "
                          f"audit log of {head} entries) and {len(manifest['files'])} stored files")
