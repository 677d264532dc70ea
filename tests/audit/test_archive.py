"""Archives export and verify offline; any tampering is found and named."""

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from django.db import transaction

from audit.archive import export_archive
from audit.checkpoints import issue_checkpoint
from audit.keys import platform_vkey
from audit.log import log_action
from common.actor import Actor
from crypto import signing
from crypto.archive import ArchiveError, verify_archive
from crypto.checkpoint import NoteSigner

ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor(username="t", role="host")


def append(n, tender_id=None):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR, tender_id=tender_id, data={"i": i})


def rewrite(data: bytes, name: str, change) -> bytes:
    """A copy of the archive with one member changed (and, to be thorough, its hash updated)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    manifest = json.loads(src.read("archive.json"))
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            if item == "archive.json":
                continue
            content = src.read(item)
            if item == name:
                content = change(content)
                import hashlib

                manifest["files"][item] = hashlib.sha256(content).hexdigest()
            dst.writestr(item, content)
        dst.writestr("archive.json", json.dumps(manifest))
    return out.getvalue()


@pytest.fixture
def whole_log(db):
    append(10)
    issue_checkpoint("a")
    append(7)
    issue_checkpoint("b")
    append(3)
    buffer = io.BytesIO()
    export_archive(buffer)
    return buffer.getvalue()


def test_the_whole_log_verifies_offline(whole_log):
    result = verify_archive(io.BytesIO(whole_log), vkey=platform_vkey())
    text = "\n".join(result.lines)
    assert "20 entries recomputed" in text and "3 signatures verified" in text
    assert "2 proofs verified" in text


def test_the_command_line_verifier_needs_no_django(whole_log, tmp_path):
    path = tmp_path / "log.zip"
    path.write_bytes(whole_log)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE, no database
    done = subprocess.run([sys.executable, "-m", "crypto.archive", str(path), "--vkey", platform_vkey()],
                          capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout and "ok  entries: 20" in done.stdout


def test_an_edited_entry_is_named(whole_log):
    def edit(content):
        lines = content.decode().splitlines(keepends=True)
        item = json.loads(lines[12])
        item["body"] = item["body"].replace('"i":2', '"i":9')
        lines[12] = json.dumps(item, ensure_ascii=False) + "\n"
        return "".join(lines).encode()

    with pytest.raises(ArchiveError, match="entry 1[2-6]: the tree of size 17 differs"):
        verify_archive(io.BytesIO(rewrite(whole_log, "log/entries.jsonl", edit)), vkey=platform_vkey())


@pytest.mark.parametrize("change, message", [
    (lambda c: b"".join(c.splitlines(keepends=True)[:5] + c.splitlines(keepends=True)[6:]), "entry 5: missing"),
    (lambda c: b"".join([c.splitlines(keepends=True)[1], c.splitlines(keepends=True)[0]]
                        + c.splitlines(keepends=True)[2:]), "entry 0: missing"),
    # The same entry spelled with a space: its hash would differ, so the body must be canonical.
    (lambda c: c.replace(b'\\"data\\":{', b'\\"data\\": {', 1), "entry 9: the tree of size 10 differs"),
])
def test_deleted_reordered_or_respelled_entries_are_caught(whole_log, change, message):
    with pytest.raises(ArchiveError, match=message):
        verify_archive(io.BytesIO(rewrite(whole_log, "log/entries.jsonl", change)), vkey=platform_vkey())


def test_an_unlisted_change_is_caught_by_the_file_hashes(whole_log):
    src = zipfile.ZipFile(io.BytesIO(whole_log))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            content = src.read(item)
            if item == "log/checkpoints.jsonl":
                content = content.replace(b"kaibiao", b"kaibiaO", 1)
            dst.writestr(item, content)
    with pytest.raises(ArchiveError, match="SHA-256 differs"):
        verify_archive(io.BytesIO(out.getvalue()), vkey=platform_vkey())


def test_a_flipped_byte_in_a_checkpoint_or_a_wrong_key_is_rejected(whole_log):
    flipped = rewrite(whole_log, "log/checkpoints.jsonl", lambda c: c.replace(b"\\n\\n", b"\\n\\n ", 1))
    with pytest.raises(ArchiveError, match="checkpoint 1"):
        verify_archive(io.BytesIO(flipped), vkey=platform_vkey())
    other = NoteSigner("kaibiao.local/audit", signing.generate_signing_key()).vkey
    with pytest.raises(ArchiveError, match="not exported by the platform"):
        verify_archive(io.BytesIO(whole_log), vkey=other)


def test_a_tender_archive_proves_its_entries_included(db, make_lot):
    lot = make_lot()
    append(4)
    append(3, tender_id=lot.pk)
    append(2)
    buffer = io.BytesIO()
    manifest = export_archive(buffer, lot=lot)
    assert manifest["entries"] == 3 and "tender.json" in manifest["files"]
    result = verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())
    assert any("3 entries proven included" in line for line in result.lines)

    def forge(content):
        lines = content.decode().splitlines(keepends=True)
        item = json.loads(lines[0])
        item["body"] = item["body"].replace('"i":0', '"i":7')
        lines[0] = json.dumps(item, ensure_ascii=False) + "\n"
        return "".join(lines).encode()

    with pytest.raises(ArchiveError, match="inclusion proof fails"):
        verify_archive(io.BytesIO(rewrite(buffer.getvalue(), "log/entries.jsonl", forge)), vkey=platform_vkey())
