"""``manage.py backup`` / ``restore`` on PostgreSQL (config/backup.py, docs/operations.md): a backup
restored into a fresh database and an empty storage directory passes ``audit_check`` there with the
stored envelopes byte for byte; a changed envelope, a rewritten manifest, an extra file or a
non-empty target are refused before anything is written."""

from __future__ import annotations

import io
import json
import os
import secrets
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from audit.checkpoints import issue_checkpoint
from tests.bidding.conftest import certify, seal, token_client, upload
from tests.conftest import need_service, need_tool

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.needs_postgres,
              pytest.mark.usefixtures("fast_hashing")]


@pytest.fixture
def pg():
    if connection.vendor != "postgresql":
        need_service("PostgreSQL", "backups are pg_dump/pg_restore; DATABASE_URL points at SQLite")
    need_tool("pg_dump")
    need_tool("pg_restore")
    made: list[str] = []

    def fresh() -> str:
        name = f"{connection.settings_dict['NAME']}_restore_{secrets.token_hex(3)}"
        with connection.cursor() as cursor:
            cursor.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        return name

    yield fresh
    for name in made:
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def url_of(name: str) -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"


def restore(archive: Path, database: str, storage: Path, settings, **extra) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"KAIBIAO_ENV", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATABASE_URL=url_of(database), KAIBIAO_STORAGE_DIR=str(storage),
               KAIBIAO_VAR_DIR=str(storage.parent / "var"),
               PLATFORM_SIGNING_KEY_FILE=str(settings.PLATFORM_SIGNING_KEY_FILE))
    env.update(extra)
    return subprocess.run([sys.executable, "manage.py", "restore", str(archive)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)


def tables(database: str) -> int:
    import psycopg

    with psycopg.connect(url_of(database)) as conn:
        return conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0]


def rewrite(archive: Path, out: Path, change) -> None:
    """Copy ``archive`` to ``out`` with ``change(name, data) -> data | None`` (None drops it)."""
    with tarfile.open(archive) as src, tarfile.open(out, "w") as dst:
        for member in src:
            data = change(member.name, src.extractfile(member).read())
            if data is not None:
                info = tarfile.TarInfo(member.name)
                info.size = len(data)
                dst.addfile(info, io.BytesIO(data))


@pytest.fixture
def backed_up(pg, people, make_lot, bid_storage, tmp_path, settings):
    from audit.keys import platform_signing_key

    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "signing-key.pem"
    platform_signing_key.cache_clear()  # this test's key, which the restoring process reads too
    lot = make_lot(max_bid_bytes=4 * 2**20)
    key, _ = certify(people["alice"], people["host"])
    env = seal(lot, people["alice"].organisation, key, os.urandom(300_000))
    assert upload(token_client(people["alice"]), lot.pk, env).status_code == 201
    issue_checkpoint("before the backup")
    archive = tmp_path / "kaibiao.tar"
    call_command("backup", str(archive), stdout=io.StringIO())
    stored = sorted(p for p in bid_storage.rglob("*") if p.is_file())
    assert stored and any(p.read_bytes() == env for p in stored)
    yield {"archive": archive, "stored": stored, "root": bid_storage, "tmp": tmp_path}
    platform_signing_key.cache_clear()


def test_a_backup_restores_into_a_fresh_database_and_passes_the_audit_check(backed_up, pg, settings):
    database, target = pg(), backed_up["tmp"] / "restored" / "storage"
    done = restore(backed_up["archive"], database, target, settings)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restored the database and" in done.stdout and "PROBLEM" not in done.stdout
    assert "entries checked:" in done.stdout and "checkpoints verified: 0" not in done.stdout
    for path in backed_up["stored"]:
        assert (target / path.relative_to(backed_up["root"])).read_bytes() == path.read_bytes()
    manifest = json.loads(tarfile.open(backed_up["archive"]).extractfile("manifest.json").read())
    assert manifest["format"] == "kaibiao-backup/v1" and manifest["database"]["audit_size"] > 0
    # The restored database is the one audit_check read: it holds what the backup held.
    with connection.cursor() as cursor:
        cursor.execute("SELECT size FROM audit_audithead WHERE id = 1")
        assert cursor.fetchone()[0] == manifest["database"]["audit_size"]


def envelope_member(archive: Path) -> str:
    names = tarfile.open(archive).getnames()
    return next(n for n in names if n.startswith("storage/bids/") and "partial" not in n)


@pytest.mark.parametrize("tamper", ["changed_envelope", "rewritten_manifest", "extra_file", "dropped_file"])
def test_a_tampered_backup_is_refused_and_nothing_is_restored(backed_up, pg, settings, tamper):
    archive, bad = backed_up["archive"], backed_up["tmp"] / "bad.tar"
    victim = envelope_member(archive)
    manifest = json.loads(tarfile.open(archive).extractfile("manifest.json").read())

    def flip(data: bytes) -> bytes:
        return data[:1000] + bytes([data[1000] ^ 1]) + data[1001:]

    def change(name, data):
        if tamper in ("changed_envelope", "rewritten_manifest") and name == victim:
            return flip(data)
        if tamper == "dropped_file" and name == victim:
            return None
        if name == "manifest.json" and tamper == "rewritten_manifest":  # an insider fixes the hash too
            import hashlib

            for entry in manifest["files"]:
                if entry["path"] == victim:
                    entry["sha256"] = hashlib.sha256(flip(tarfile.open(archive).extractfile(victim).read())).hexdigest()
            return json.dumps(manifest).encode()
        return data

    rewrite(archive, bad, change)
    if tamper == "extra_file":
        with tarfile.open(bad, "a") as tar:
            info = tarfile.TarInfo("storage/bids/planted.tenv")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    database, target = pg(), backed_up["tmp"] / f"restored-{tamper}" / "storage"
    done = restore(bad, database, target, settings)
    assert done.returncode != 0, done.stdout
    expected = {"changed_envelope": f"{victim} does not match its hash",
                "rewritten_manifest": "signature does not verify",
                "extra_file": "files the manifest does not list",
                "dropped_file": f"{victim} is in the manifest but not in the archive"}[tamper]
    assert "restore refused" in done.stderr and expected in done.stderr, done.stderr
    assert tables(database) == 0 and not (target.exists() and any(target.iterdir()))


def test_a_restore_into_a_database_in_use_is_refused(backed_up, pg, settings):
    database, target = pg(), backed_up["tmp"] / "twice" / "storage"
    assert restore(backed_up["archive"], database, target, settings).returncode == 0
    again = restore(backed_up["archive"], database, backed_up["tmp"] / "twice-b" / "storage", settings)
    assert again.returncode != 0 and "pg_restore failed" in again.stderr
    done = restore(backed_up["archive"], pg(), target, settings)  # the storage directory is not empty
    assert done.returncode != 0 and "is not empty" in done.stderr


def test_a_backup_while_the_signing_key_is_away_writes_nothing(pg, people, bid_storage, tmp_path, settings):
    """The key found is not the pinned one (a token swapped under the same labels, the HSM away):
    a clear refusal, and neither the archive nor a half-written file."""
    from django.core.management.base import CommandError

    from audit.keys import platform_signing_key

    settings.PLATFORM_SIGNING_KEY_FILE = tmp_path / "signing-key.pem"
    settings.PLATFORM_SIGNING_PUBLIC_KEY = "ab" * 32
    platform_signing_key.cache_clear()
    archive = tmp_path / "kaibiao.tar"
    try:
        with pytest.raises(CommandError, match="no backup written: the platform's signing key cannot sign"):
            call_command("backup", str(archive), stdout=io.StringIO())
    finally:
        platform_signing_key.cache_clear()
    assert not archive.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["signing-key.pem"]


def test_a_restore_checks_the_pinned_public_key_and_needs_no_signing_key(backed_up, pg, settings):
    """Restoring on a machine without the platform's signing key (its HSM not attached yet): the
    pinned public key checks the backup and the audit log; a pin of another key — an insider who
    re-signed the backup with their own — is refused; with neither, a clear error, no traceback."""
    from audit.keys import platform_signing_key
    from crypto import signing

    true_pin = signing.public_key_bytes(platform_signing_key()).hex()
    tmp = backed_up["tmp"]
    elsewhere = str(tmp / "another-machine" / "signing-key.pem")  # a new key, made on first use
    database, target = pg(), tmp / "pinned" / "storage"
    done = restore(backed_up["archive"], database, target, settings, PLATFORM_SIGNING_KEY_FILE=elsewhere,
                   PLATFORM_SIGNING_PUBLIC_KEY=true_pin)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "restored the database and" in done.stdout and "OK: root" in done.stdout, done.stdout
    assert "checkpoints verified: 0" not in done.stdout

    # The insider's own key pinned (and the backup re-signed by it would pass; this one does not).
    theirs = signing.public_key_bytes(signing.generate_signing_key()).hex()
    done = restore(backed_up["archive"], pg(), tmp / "theirs" / "storage", settings,
                   PLATFORM_SIGNING_KEY_FILE=elsewhere, PLATFORM_SIGNING_PUBLIC_KEY=theirs)
    assert done.returncode != 0 and "signature does not verify" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
