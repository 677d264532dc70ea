"""Archives export and verify offline; every forgery an insider can make — editing and re-zipping,
fixing hashes, re-signing with a fresh key or with the platform's own — is found and named."""

import hashlib
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
from audit.keys import note_signer, platform_vkey
from audit.log import log_action
from common.actor import Actor
from crypto import signing
from crypto.archive import ArchiveError, NotVerified, manifest_signature_body, verify_archive
from crypto.checkpoint import Checkpoint, NoteSigner

ROOT = Path(__file__).resolve().parents[2]
ACTOR = Actor(username="t", role="host")


def append(n, tender_id=None):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR, tender_id=tender_id, data={"i": i})


def repack(data: bytes, changes: dict, *, signer="platform", resign_notes=False) -> bytes:
    """The archive re-zipped with members changed (name -> function of the old bytes, or None to
    drop it), every hash in archive.json fixed, and archive.json re-signed: with the platform's own
    key (an insider holding it), a fresh key (which also replaces the vkey and, with
    ``resign_notes``, every checkpoint's signature), or not at all (``signer=None``)."""
    src, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    manifest = json.loads(src.read("archive.json"))
    fresh = NoteSigner(manifest["origin"], signing.generate_signing_key()) if signer == "fresh" else None
    members = {}
    for name in src.namelist():
        if name in ("archive.json", "archive.sig"):
            continue
        content = src.read(name)
        if name in changes:
            content = changes[name](content) if changes[name] else None
        if fresh and resign_notes and name == "log/checkpoints.jsonl":
            content = b"".join(_resigned(line, fresh) for line in content.splitlines(keepends=True))
        if content is not None:
            members[name] = content
    for name, change in changes.items():
        if name not in src.namelist() and change:
            members[name] = change(b"")
    manifest["files"] = {n: hashlib.sha256(c).hexdigest() for n, c in members.items()}
    if fresh:
        manifest["vkey"] = fresh.vkey
    raw = (json.dumps(manifest, sort_keys=True) + "\n").encode()
    with zipfile.ZipFile(out, "w") as dst:
        for name, content in members.items():
            dst.writestr(name, content)
        dst.writestr("archive.json", raw)
        if signer is None:
            dst.writestr("archive.sig", src.read("archive.sig"))
        else:
            dst.writestr("archive.sig", (fresh or note_signer()).sign(manifest_signature_body(raw)))
    return out.getvalue()


def _resigned(line: bytes, signer) -> bytes:
    item = json.loads(line)
    body = item["note"][:item["note"].index("\n\n") + 1]
    checkpoint = Checkpoint.parse_body(body)
    item["note"] = signer.sign(Checkpoint(signer.name, checkpoint.size, checkpoint.root_hash).to_body())
    return (json.dumps(item) + "\n").encode()


def lines_of(content: bytes) -> list[bytes]:
    return content.splitlines(keepends=True)


def verify(data, **kw):
    kw.setdefault("vkey", platform_vkey())
    return verify_archive(io.BytesIO(data), **kw)


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
    text = "\n".join(verify(whole_log).lines)
    assert "23 entries recomputed" in text  # 20 and the three checkpoints' records
    assert "3 signatures verified" in text and "2 proofs verified" in text
    assert "checkpoints #1..#3, each recorded" in text and "archive.json is signed" in text


def test_the_command_line_verifier_needs_no_django_and_refuses_without_a_key(whole_log, tmp_path):
    path = tmp_path / "log.zip"
    path.write_bytes(whole_log)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # no DJANGO_SETTINGS_MODULE, no database

    def run(*args):
        return subprocess.run([sys.executable, "-m", "crypto.archive", str(path), *args],
                              capture_output=True, text=True, env=env, timeout=60)

    done = run("--vkey", platform_vkey())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "VERIFIED" in done.stdout and "ok  entries: 23" in done.stdout
    refused = run()
    assert refused.returncode == 2 and refused.stdout.startswith("NOT VERIFIED: no trusted key")
    trusting = run("--trust-archive-key")
    assert trusting.returncode == 0 and "WARNING trusting the key the archive names" in trusting.stdout
    pinned = subprocess.run([sys.executable, "-m", "crypto.archive", str(path)], capture_output=True,
                            text=True, env={**env, "KAIBIAO_VKEY": platform_vkey()}, timeout=60)
    assert pinned.returncode == 0, pinned.stdout


def _edit_entry(line_number, old, new):
    def edit(content):
        lines = lines_of(content)
        item = json.loads(lines[line_number])
        assert old in item["body"]
        item["body"] = item["body"].replace(old, new)
        lines[line_number] = (json.dumps(item, ensure_ascii=False) + "\n").encode()
        return b"".join(lines)
    return edit


WHOLE_LOG_CASES = [
    ("an entry edited, hashes fixed, manifest not re-signed",
     {"log/entries.jsonl": _edit_entry(13, '"i":2', '"i":9')}, None,
     "the signature is over another manifest"),
    ("an entry edited and the manifest re-signed with the platform key",
     {"log/entries.jsonl": _edit_entry(13, '"i":2', '"i":9')}, "platform",
     r"entry 1[3-8]: the tree of size 19 differs"),
    ("an entry deleted", {"log/entries.jsonl": lambda c: b"".join(lines_of(c)[:5] + lines_of(c)[6:])},
     "platform", "entry 5: missing"),
    ("two entries swapped",
     {"log/entries.jsonl": lambda c: b"".join([lines_of(c)[1], lines_of(c)[0]] + lines_of(c)[2:])},
     "platform", "entry 0: missing"),
    ("an entry respelled with a space",
     {"log/entries.jsonl": lambda c: c.replace(b'\\"data\\":{', b'\\"data\\": {', 1)}, "platform",
     "entry 10: the tree of size 11 differs"),
    ("a middle checkpoint dropped with its proofs",
     {"log/checkpoints.jsonl": lambda c: b"".join(lines_of(c)[:1] + lines_of(c)[2:]),
      "log/consistency.jsonl": lambda c: b""}, "platform", "no consistency proof from size 11 to 23"),
    ("the manifest's signature removed", {"archive.sig": None}, "platform", "archive.sig is missing"),
]


@pytest.mark.parametrize("name, changes, signer, message", WHOLE_LOG_CASES, ids=[c[0] for c in WHOLE_LOG_CASES])
def test_a_forged_whole_log_archive_is_named(whole_log, name, changes, signer, message):
    forged = repack(whole_log, changes, signer=signer)
    if name == "the manifest's signature removed":
        src, out = zipfile.ZipFile(io.BytesIO(forged)), io.BytesIO()
        with zipfile.ZipFile(out, "w") as dst:
            for item in src.namelist():
                if item != "archive.sig":
                    dst.writestr(item, src.read(item))
        forged = out.getvalue()
    with pytest.raises(ArchiveError, match=message):
        verify(forged)


def test_a_fresh_key_re_signing_everything_is_not_the_platform(whole_log):
    forged = repack(whole_log, {"log/entries.jsonl": _edit_entry(13, '"i":2', '"i":9')}, signer="fresh",
                    resign_notes=True)
    with pytest.raises(ArchiveError, match="not exported by the platform whose key was given"):
        verify(forged)
    with pytest.raises(NotVerified, match="no trusted key"):
        verify(forged, vkey=None)
    # Trusting the archive's own key shows self-consistency only: here the tree is still caught,
    # because the notes carry roots the forger re-signed but the edited entry no longer hashes to.
    with pytest.raises(ArchiveError, match="the tree of size 19 differs"):
        verify(forged, vkey=None, trust_archive_key=True)


def test_a_v1_reader_is_not_fooled_and_a_v1_archive_is_refused(whole_log):
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(whole_log)).read("archive.json"))
    assert manifest["format"] == "kaibiao-archive/v2"
    old = repack(whole_log, {})
    src, out = zipfile.ZipFile(io.BytesIO(old)), io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            content = src.read(item)
            if item == "archive.json":
                content = content.replace(b"kaibiao-archive/v2", b"kaibiao-archive/v1")
            dst.writestr(item, content)
    with pytest.raises(ArchiveError, match="unknown archive format 'kaibiao-archive/v1'"):
        verify(out.getvalue())
