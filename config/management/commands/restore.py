"""``manage.py restore ARCHIVE``: verify a backup whole (signature, every hash, nothing unlisted),
then restore it into the configured database, which must be new and empty, and the storage
directory, which must be empty; then check the audit log (``audit_check``) on the result
(``config/backup.py``; docs/operations.md, "Backups").

The backup's signature is checked against the platform's public key: the pinned one
(``PLATFORM_SIGNING_PUBLIC_KEY``) when set — so a restore needs no HSM, as after losing the machine
it is attached to — otherwise the signing key's own public half."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from audit.keys import platform_public_key
from config.backup import BackupError, Database, restore, verify
from crypto import signing


class Command(BaseCommand):
    help = "Verify a backup archive and restore it into an empty database and storage directory."

    def add_arguments(self, parser):
        parser.add_argument("archive")
        parser.add_argument("--verify-only", action="store_true", help="check the archive, restore nothing")
        parser.add_argument("--no-audit-check", action="store_true", help="skip audit_check afterwards")

    def handle(self, *args, archive, verify_only=False, no_audit_check=False, **options):
        verify_key = _verify_key()
        try:
            if verify_only:
                import tempfile

                with tempfile.TemporaryDirectory(prefix="kaibiao-verify-") as tmp:
                    manifest = verify(Path(archive), Path(tmp), verify_key=verify_key)
                self.stdout.write(f"backup OK: {len(manifest['files'])} stored files, "
                                  f"created {manifest['created_at']}")
                return
            manifest = restore(Path(archive), database=Database.of(connections["default"].settings_dict),
                               storage_dir=Path(settings.STORAGE_DIR), verify_key=verify_key)
        except BackupError as exc:
            raise CommandError(f"restore refused: {exc}") from None
        self.stdout.write(f"restored the database and {len(manifest['files'])} stored files "
                          f"(backup of {manifest['created_at']}, audit log of "
                          f"{manifest['database']['audit_size']} entries)")
        if not no_audit_check:
            connections.close_all()
            call_command("audit_check", stdout=self.stdout, stderr=self.stderr)



def _verify_key() -> bytes:
    """The public key the backup's manifest must be signed by (the pinned one when set)."""
    try:
        return platform_public_key()
    except signing.SigningUnavailable as exc:
        raise CommandError(f"restore refused: the backup's signature cannot be checked ({exc}); set "
                           "PLATFORM_SIGNING_PUBLIC_KEY to the platform's public key (64 hex digits) to "
                           "restore without its signing key") from None
