"""Backups: the PostgreSQL database (``pg_dump -Fc``) and the stored files (``STORAGE_DIR``: the
sealed envelopes, decrypted packages, records) in one archive with a signed manifest of hashes, and
their restore into an empty database and an empty storage directory (docs/operations.md, "Backups").

The archive (``kaibiao-backup/v1``) is a tar of ``database.dump``, ``storage/<path>`` for every
stored file and, last, ``manifest.json``::

    {"format": "kaibiao-backup/v1", "created_at": "...Z", "origin": AUDIT_ORIGIN,
     "database": {"path": "database.dump", "size": n, "sha256": hex, "audit_size": n},
     "files": [{"path": "storage/bids/...", "size": n, "sha256": hex}, ...],
     "signer": base64 Ed25519 public key, "signature": base64}

The signature is the platform signing key's over ``"kaibiao-backup/v1\\n" + canonical JSON of the
manifest without ``signature``. A restore verifies the signature against the restoring platform's
own key, then every member's size and hash, refuses a member the manifest does not list (or one
listed twice, or a path leaving the archive), and only then writes anything. Afterwards
``manage.py audit_check`` must pass on the restored database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath

from common.canonical import canonical_json, format_time
from common.tools import find_tool
from crypto import signing

FORMAT = "kaibiao-backup/v1"
DUMP = "database.dump"
MANIFEST = "manifest.json"
CHUNK = 1 << 20


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why (nothing was restored)."""


@dataclass
class Database:
    name: str
    host: str = ""
    port: str = ""
    user: str = ""
    password: str = ""

    @classmethod
    def of(cls, settings_dict: dict) -> "Database":
        if "postgresql" not in settings_dict["ENGINE"]:
            raise BackupError("backups need PostgreSQL (DATABASE_URL=postgres://...): "
                              "the embedded SQLite database has no dump and restore here")
        return cls(name=settings_dict["NAME"], host=str(settings_dict.get("HOST") or ""),
                   port=str(settings_dict.get("PORT") or ""), user=str(settings_dict.get("USER") or ""),
                   password=str(settings_dict.get("PASSWORD") or ""))

    def args(self) -> list[str]:
        out = ["--dbname", self.name]
        for flag, value in (("--host", self.host), ("--port", self.port), ("--username", self.user)):
            if value:
                out += [flag, value]
        return out

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.password:
            env["PGPASSWORD"] = self.password
        return env


def _missing(name: str) -> BackupError:
    return BackupError(f"{name} not found (Debian: apt-get install postgresql-client)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _signed_bytes(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return (FORMAT + "\n" + canonical_json(body)).encode()


def create(out: Path, *, database: Database, storage_dir: Path, signing_key, origin: str,
           audit_size: int, now: datetime) -> dict:
    """Write the archive to ``out`` (atomically: a temporary file renamed at the end). Returns the
    manifest."""
    pg_dump = find_tool("pg_dump")
    if pg_dump is None:
        raise _missing("pg_dump")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="kaibiao-backup-", dir=out.parent) as tmp:
        dump = Path(tmp) / DUMP
        done = subprocess.run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", "--file", str(dump),
                               *database.args()], env=database.env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_dump failed: {done.stderr.strip()[-2000:]}")
        files = []
        storage_dir = Path(storage_dir)
        if storage_dir.is_dir():
            for path in sorted(p for p in storage_dir.rglob("*") if p.is_file() and not p.is_symlink()):
                rel = path.relative_to(storage_dir).as_posix()
                files.append({"path": f"storage/{rel}", "size": path.stat().st_size, "sha256": _sha256(path),
                              "_source": path})
        manifest = {
            "format": FORMAT, "created_at": format_time(now), "origin": origin,
            "database": {"path": DUMP, "size": dump.stat().st_size, "sha256": _sha256(dump),
                         "audit_size": audit_size},
            "files": [{k: v for k, v in f.items() if k != "_source"} for f in files],
            "signer": base64.b64encode(signing.public_key_bytes(signing_key)).decode(),
        }
        manifest["signature"] = base64.b64encode(signing.sign(signing_key, _signed_bytes(manifest))).decode()
        partial = Path(tmp) / "archive.tar"
        with tarfile.open(partial, "w") as tar:
            tar.add(dump, arcname=DUMP)
            for f in files:
                tar.add(f["_source"], arcname=f["path"])
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o600
            tar.addfile(info, _BytesReader(data))
        with open(partial, "rb") as f:
            os.fsync(f.fileno())
        os.replace(partial, out)
    return manifest


class _BytesReader:
    def __init__(self, data: bytes):
        self.data, self.at = data, 0

    def read(self, n: int = -1) -> bytes:
        n = len(self.data) - self.at if n < 0 else n
        out = self.data[self.at:self.at + n]
        self.at += len(out)
        return out


def _safe(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"the archive holds a path outside itself: {name!r}")
    return path.as_posix()


def verify(archive: Path, staging: Path, *, verify_key) -> dict:
    """Unpack ``archive`` into ``staging`` and check it whole; returns the manifest. Raises
    ``BackupError`` naming the first problem."""
    seen: dict[str, Path] = {}
    try:
        with tarfile.open(archive, "r:") as tar:
            for member in tar:
                name = _safe(member.name)
                if not member.isfile():
                    raise BackupError(f"the archive holds something other than a file: {name}")
                if name in seen:
                    raise BackupError(f"the archive holds {name} twice")
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with tar.extractfile(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, CHUNK)
                seen[name] = target
    except (tarfile.TarError, EOFError) as exc:
        raise BackupError(f"not a readable backup archive: {exc}") from None
    if MANIFEST not in seen:
        raise BackupError("the archive has no manifest.json")
    try:
        manifest = json.loads(seen.pop(MANIFEST).read_text())
        signature = base64.b64decode(manifest["signature"], validate=True)
        entries = [manifest["database"], *manifest["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise BackupError(f"the manifest is damaged: {exc}") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"not a {FORMAT} archive: {manifest.get('format')!r}")
    try:
        signing.verify(verify_key, signature, _signed_bytes(manifest))
    except signing.SignatureError:
        raise BackupError("the manifest's signature does not verify with this platform's signing key: "
                          "the archive was altered, or it belongs to another installation") from None
    listed = set()
    for entry in entries:
        name = _safe(entry["path"])
        if name in listed:
            raise BackupError(f"the manifest lists {name} twice")
        listed.add(name)
        path = seen.get(name)
        if path is None:
            raise BackupError(f"{name} is in the manifest but not in the archive")
        if path.stat().st_size != entry["size"] or _sha256(path) != entry["sha256"]:
            raise BackupError(f"{name} does not match its hash in the manifest")
    extra = sorted(set(seen) - listed)
    if extra:
        raise BackupError(f"the archive holds files the manifest does not list: {', '.join(extra[:5])}")
    return manifest


def restore(archive: Path, *, database: Database, storage_dir: Path, verify_key) -> dict:
    """Verify the archive, then restore it into ``database`` (which must have no tables) and
    ``storage_dir`` (which must be empty or absent). Returns the manifest."""
    pg_restore = find_tool("pg_restore")
    if pg_restore is None:
        raise _missing("pg_restore")
    storage_dir = Path(storage_dir)
    if storage_dir.exists() and any(storage_dir.iterdir()):
        raise BackupError(f"the storage directory {storage_dir} is not empty: restore into an empty one")
    storage_dir.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kaibiao-restore-", dir=storage_dir.parent) as tmp:
        staging = Path(tmp)
        manifest = verify(Path(archive), staging, verify_key=verify_key)
        done = subprocess.run([pg_restore, "--exit-on-error", "--no-owner", "--no-privileges", "--single-transaction",
                               *database.args(), str(staging / DUMP)],
                              env=database.env(), capture_output=True, text=True)
        if done.returncode != 0:
            raise BackupError(f"pg_restore failed (the database must be new and empty): "
                              f"{done.stderr.strip()[-2000:]}")
        if (staging / "storage").is_dir():
            os.replace(staging / "storage", storage_dir) if not storage_dir.exists() else \
                _move_into(staging / "storage", storage_dir)
        else:
            storage_dir.mkdir(exist_ok=True)
    return manifest


def _move_into(source: Path, target: Path) -> None:
    for item in source.iterdir():
        os.replace(item, target / item.name)
