"""Releasing a file key at the opening (from the browser's ``hall.release_key`` or ``sealbid open``'s
``POST /lots/{id}/decryption``) and backup decryption with the custodians' shares.

The key is checked against the envelope's commitment and MAC (``crypto.envelope.verify_file_key``)
before a byte is decrypted. Then, outside any transaction (a bid may be gigabytes), the stored
envelope is hashed and decrypted in one streaming pass into a temporary file, kept only if
``open_envelope`` returns and the SHA-256 equals the receipt's; its ``manifest.json`` is read from
the tar and checked against the tender's announced fields. Finally, under the hall's lock, the
bid is recorded as decrypted — if decryption is still running.

Faults (docs/opening.md, "Decryption"):
- a key that does not verify → ``invalid_file_key``, the bidder's; it may retry within the window;
- the stored envelope missing or not the receipted bytes → the platform's (``platform_error`` is
  recorded: at the window's close the bid counts as withdrawn, 撤回, unless backup decryption
  opened it) → ``decryption_failed``;
- a verified key on the receipted bytes that still does not decrypt → the bidder sealed a damaged
  envelope: ``invalid_envelope``, the bidder's.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import tarfile
import tempfile
from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.db import transaction

from common import metrics
from common.actor import Actor
from common.errors import BadRequest, ErrorCode, PlatformError
from crypto import envelope, keys, shamir

from .. import storage
from ..models import Lot, Opening, OpeningBid
from ..phases import Command, Phase
from . import rules
from .actions import maybe_all_decrypted
from .moves import audit, check, lock_opening, notify_bid

MAX_MANIFEST_BYTES = 1 << 20


class _HashingReader(io.RawIOBase):
    def __init__(self, f):
        self.f, self.digest = f, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self.f.readinto(b)
        if n:
            self.digest.update(memoryview(b)[:n])
        return n

    def finish(self) -> str:
        while self.f.read(1 << 20):
            pass
        return self.digest.hexdigest()


def _decode_key(text) -> bytes:
    """Standard base64 of 32 bytes, padded or not, canonical (docs/opening.md)."""
    if not isinstance(text, str) or len(text) > 100:
        raise PlatformError(ErrorCode.INVALID_FILE_KEY, "file_key is the base64 of 32 bytes")
    try:
        return keys.b64decode_lenient(text, envelope.FILE_KEY_SIZE)
    except ValueError:
        raise PlatformError(ErrorCode.INVALID_FILE_KEY, "file_key is the base64 of 32 bytes") from None


def _opened_path(ob: OpeningBid) -> Path:
    return Path(settings.STORAGE_DIR) / "opened" / str(ob.opening.lot_id) / f"{ob.submission_id}.tar"


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _read_manifest(path: Path):
    try:
        with tarfile.open(path, mode="r:") as tar:
            for member in tar:
                if member.name == "manifest.json" and member.isfile():
                    if member.size > MAX_MANIFEST_BYTES:
                        return None, ["manifest.json is too large"]
                    return json.loads(tar.extractfile(member).read().decode("utf-8")), []
    except (tarfile.TarError, UnicodeDecodeError, json.JSONDecodeError, OSError):
        return None, ["the package is not a tar with a readable manifest.json"]
    return None, ["the package has no manifest.json"]


def _decrypt_to_temp(ob: OpeningBid, file_key: bytes) -> tuple[Path | None, str, str]:
    """Decrypt the stored envelope into a temporary file: ``(path, error_code, platform_error)``."""
    sub = ob.submission
    lot = ob.opening.lot
    receipted = (sub.receipt or {}).get("receipt", {}).get("envelope", {}).get("sha256")
    if receipted is not None and receipted != sub.sha256:
        return None, ErrorCode.DECRYPTION_FAILED, "the stored submission and its receipt disagree"
    final = _opened_path(ob)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, suffix=".part")
    tmp = Path(tmp)
    expected = envelope.Binding(lot.project.code, lot.code, ob.organisation.credit_code)
    try:
        with open(storage.stored_envelope(sub), "rb") as raw, os.fdopen(fd, "wb") as out:
            reader = _HashingReader(raw)
            buffered = io.BufferedReader(reader, 1 << 20)
            try:
                envelope.open_envelope(buffered, out, file_key=file_key, expected=expected)
                failed = False
            except envelope.InvalidEnvelope:
                failed = True
            buffered.read()  # the rest (none after a good envelope) is hashed too
            sha = reader.finish()
    except FileNotFoundError:
        tmp.unlink(missing_ok=True)
        return None, ErrorCode.DECRYPTION_FAILED, "the stored envelope is missing"
    if sha != sub.sha256:
        tmp.unlink(missing_ok=True)
        return None, ErrorCode.DECRYPTION_FAILED, "the stored envelope is not the receipted bytes"
    if failed:
        tmp.unlink(missing_ok=True)
        return None, ErrorCode.INVALID_ENVELOPE, ""
    return tmp, "", ""


def _bidder_bid(user, lot_id: int) -> OpeningBid:
    ob = (OpeningBid.objects.select_related("opening", "opening__lot", "opening__lot__project",
                                            "submission", "organisation")
          .filter(opening__lot_id=lot_id, organisation_id=getattr(user, "organisation_id", None)).first())
    if ob is None:
        raise PlatformError(ErrorCode.NOT_FOUND, "you have no bid on file in this opening")
    return ob


def _check_open(op: Opening, role: str, now: datetime) -> None:
    check(op, role, Command.RELEASE_KEY)
    if op.decryption_ends_at is not None and now >= op.decryption_ends_at:
        raise PlatformError(ErrorCode.INVALID_STATE, "the decryption window has closed")


def _record_failure(lot_id: int, ob_id: int, *, code: str, platform_error: str, actor: Actor,
                    now: datetime) -> None:
    with transaction.atomic():
        op = lock_opening(lot_id)
        ob = OpeningBid.objects.select_related("organisation").get(pk=ob_id)
        if ob.status != OpeningBid.Status.PENDING or op.phase != Phase.DECRYPTING:
            return
        ob.attempts += 1
        ob.last_error = str(code)
        if platform_error:
            ob.platform_error = platform_error
        ob.save(update_fields=["attempts", "last_error", "platform_error"])
        notify_bid(op, ob, now=now, status_changed=False)  # still pending: the counts did not move
        audit(op, "decryption_failed", actor, now, organisation=ob.organisation_id,
              submission=str(ob.submission_id), code=str(code), platform_error=platform_error,
              attempts=ob.attempts, user_agent=actor.user_agent)
        labels = (str(code), "platform" if platform_error else "bidder")
        transaction.on_commit(lambda: metrics.DECRYPTION_FAILURES.labels(*labels).inc())


def _decrypt(ob: OpeningBid, file_key: bytes, *, by: str, actor: Actor, role: str, now: datetime) -> dict:
    lot: Lot = ob.opening.lot
    path, code, platform_error = _decrypt_to_temp(ob, file_key)
    if path is None:
        _record_failure(lot.pk, ob.pk, code=code, platform_error=platform_error, actor=actor, now=now)
        if code == ErrorCode.DECRYPTION_FAILED:
            raise PlatformError(ErrorCode.DECRYPTION_FAILED, "the platform could not read your stored "
                                "bid; this is recorded as the platform's fault", temporary=True)
        raise PlatformError(ErrorCode.INVALID_ENVELOPE, "the key is right but the envelope does not "
                            "decrypt: it was damaged before it was sealed or sent")
    try:
        package_sha256 = _file_sha256(path)  # in the audit entry: what apps later read is checked by it
        manifest, problems = _read_manifest(path)
        values, more = rules.check_manifest(manifest, lot.announced_fields, expected={
            "tender": lot.project.code, "lot": lot.code, "bidder": ob.organisation.credit_code})
        with transaction.atomic():
            op = lock_opening(lot.pk)
            if by == "bidder":
                _check_open(op, role, now)
            elif op.phase != Phase.DECRYPTING:
                raise PlatformError(ErrorCode.INVALID_STATE, "backup decryption is only while decrypting")
            ob = OpeningBid.objects.select_related("organisation", "opening").get(pk=ob.pk)
            if ob.status != OpeningBid.Status.PENDING:
                return {"status": ob.status}
            final = _opened_path(ob)
            os.replace(path, final)
            path = None
            ob.status, ob.decrypted_by, ob.decrypted_at = OpeningBid.Status.DECRYPTED, by, now
            ob.file_key = base64.b64encode(file_key).decode()
            ob.values, ob.problems = values, problems + more
            ob.attempts += 1
            ob.last_error = ""
            ob.plaintext_path = str(final.relative_to(Path(settings.STORAGE_DIR)))
            ob.save()
            op.lot = lot
            notify_bid(op, ob, now=now)
            audit(op, "bid_decrypted", actor, now, organisation=ob.organisation_id,
                  submission=str(ob.submission_id), by=by, values=values, problems=ob.problems,
                  package_sha256=package_sha256, key_id=_opening_key_id(ob, by), user_agent=actor.user_agent)
            maybe_all_decrypted(op, actor=actor, now=now)
            return {"status": ob.status, "problems": ob.problems}
    finally:
        if path is not None:
            Path(path).unlink(missing_ok=True)


def _opening_key_id(ob: OpeningBid, by: str) -> str:
    """The key whose holder opened the bid: the bidder's (its file key was wrapped to it), or the
    tender's escrow key for a backup decryption."""
    sub = ob.submission
    return sub.key_id if by == "bidder" else (sub.escrow_key_id or "")


def release_key(user, actor: Actor, lot_id: int, *, file_key, commitment=None, role: str = "bidder",
                now: datetime) -> dict:
    """A bidder releases its file key. Idempotent once decrypted."""
    ob = _bidder_bid(user, lot_id)
    op = ob.opening
    _check_open(op, role, now)
    if ob.status != OpeningBid.Status.PENDING:
        return {"status": ob.status}
    key = _decode_key(file_key)
    header = envelope.read_header(io.BytesIO(bytes(ob.submission.header)))
    try:
        if commitment is not None and commitment != ob.submission.commitment:
            raise envelope.InvalidEnvelope("another envelope's commitment")
        envelope.verify_file_key(header, key)
    except envelope.InvalidEnvelope:
        _record_failure(lot_id, ob.pk, code=ErrorCode.INVALID_FILE_KEY, platform_error="", actor=actor, now=now)
        raise PlatformError(ErrorCode.INVALID_FILE_KEY, "this key does not open your bid; you may try "
                            "again until the window closes") from None
    return _decrypt(ob, key, by="bidder", actor=actor, role=role, now=now)


def decrypt_recovered(ob: OpeningBid, file_key: bytes, *, actor: Actor, now: datetime) -> dict:
    """Decrypt a bid with the file key its custodians' shares made (``bidding.escrow_recovery``),
    already verified against the commitment: as if released, ``decrypted_by: "escrow"``."""
    return _decrypt(ob, file_key, by="escrow", actor=actor, role="host", now=now)


def backup_decrypt(user, actor: Actor, lot_id: int, *, submission_id, shares, reason: str, note: str = "",
                   now: datetime) -> dict:
    """Backup decryption (备用解密) of a v1 envelope sealed to a dealt escrow key: the host enters
    the shares the custodians opened in the hall;
    ``bidding.escrow.recover_file_key_with_escrow`` checks them (manager, reason, threshold) and
    audits; the bid is then decrypted as if released. No share is stored."""
    from ..escrow import recover_file_key_with_escrow

    ob = (OpeningBid.objects.select_related("opening", "opening__lot", "opening__lot__project",
                                            "submission", "organisation")
          .filter(opening__lot_id=lot_id, submission_id=submission_id).first())
    if ob is None:
        raise PlatformError(ErrorCode.NOT_FOUND, "no such bid in this opening")
    if ob.opening.phase != Phase.DECRYPTING or ob.status != OpeningBid.Status.PENDING:
        raise PlatformError(ErrorCode.INVALID_STATE, "backup decryption is for a pending bid while decrypting")
    parsed = []
    try:  # `share` is base64, padded or not (docs/opening.md)
        for item in shares:
            parsed.append((int(item["custodian"]),
                           shamir.Share(int(item["index"]), keys.b64decode_lenient(item["share"], 32))))
    except (KeyError, TypeError, ValueError, shamir.ShareError):
        raise BadRequest("shares are [{custodian, index, share (base64 of 32 bytes)}]") from None
    key = recover_file_key_with_escrow(user, actor, ob.submission_id, shares=parsed, reason=reason,
                                       note=note, now=now)
    return _decrypt(ob, key, by="escrow", actor=actor, role="host", now=now)
