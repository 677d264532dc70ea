"""A transparency-log witness (C2SP tlog-witness): cosign a checkpoint only if it extends the last one.

The witness is run by someone other than the platform (the supervising authority, say), with its
own Ed25519 key and the platform's verifier key. For each log origin it remembers the latest
checkpoint it cosigned — size and root — in a state file written atomically and fsync'd *before* it
answers, under a lock held from the check to the write (a crash or restart never rolls it back, and
two requests cannot race each other back to a smaller tree). ``add_checkpoint`` answers as the
spec's HTTP interface does: 400 malformed, 404 unknown origin, 403 not signed by the log's key,
409 (with the witness's size, ``text/x.tlog.size``) when the old size is not the one it cosigned or
the same size has another root, 422 when the consistency proof fails, 200 with the cosignature.

No Django, no database: ``kaibiao-witness`` (``witness.server``) serves it over HTTP.
"""

from __future__ import annotations

import base64
import binascii
import fcntl
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from crypto import merkle
from crypto.checkpoint import Checkpoint, CheckpointError, NoteVerifier, open_checkpoint
from crypto.cosignature import Cosigner

MAX_PROOF_LINES = 63
MAX_REQUEST = 1 << 16
SIZE_TYPE = "text/x.tlog.size"
_OLD_RE = re.compile(r"old (0|[1-9][0-9]{0,19})")


@dataclass(frozen=True)
class Reply:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class StateFile:
    """``{origin: {"size": n, "root": base64}}`` in a JSON file, replaced atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock_path = self.path.with_name(self.path.name + ".lock")

    def load(self) -> dict:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}

    def save(self, state: dict) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "w") as out:
            json.dump(state, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        directory = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)

    def locked(self):
        """An exclusive lock across processes sharing the file (one witness, several servers)."""
        return _FileLock(self._lock_path)


class _FileLock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self):
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)


def _parse_request(body: bytes) -> tuple[int, list[bytes], str]:
    text = body.decode("utf-8")
    header, sep, note = text.partition("\n\n")
    if not sep:
        raise ValueError("no empty line after the old size and the proof")
    lines = header.split("\n")
    match = _OLD_RE.fullmatch(lines[0])
    if not match:
        raise ValueError("the first line is 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise ValueError("more than 63 consistency proof lines")
    proof = []
    for line in lines[1:]:
        raw = base64.b64decode(line.encode("ascii"), validate=True)
        if len(raw) != merkle.HASH_SIZE or base64.b64encode(raw).decode() != line:
            raise ValueError("a proof line is one base64 hash")
        proof.append(raw)
    return int(match.group(1)), proof, note


class Witness:
    def __init__(self, cosigner: Cosigner, logs: list[NoteVerifier], state: StateFile, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.cosigner = cosigner
        self.logs = {log.name: log for log in logs}  # a log's origin is its key's name
        self.state = state
        self.clock = clock
        self._lock = threading.Lock()

    def add_checkpoint(self, request: bytes) -> Reply:
        if len(request) > MAX_REQUEST:
            return Reply(400, "request too large\n")
        try:
            old, proof, note = _parse_request(request)
            body = note[:note.rfind("\n\n") + 1] if "\n\n" in note else note
            origin = Checkpoint.parse_body(body).origin
        except (ValueError, UnicodeError, binascii.Error, CheckpointError) as exc:
            return Reply(400, f"malformed request: {exc}\n")
        log = self.logs.get(origin)
        if log is None:
            return Reply(404, "unknown log origin\n")
        try:
            checkpoint = open_checkpoint(note, log)
        except CheckpointError:
            return Reply(403, "the checkpoint is not signed by the log's key\n")
        if old > checkpoint.size:
            return Reply(400, "the old size is larger than the checkpoint's\n")
        with self._lock, self.state.locked():
            state = self.state.load()
            known = state.get(origin, {"size": 0, "root": None})
            if old != known["size"]:
                return Reply(409, f"{known['size']}\n", SIZE_TYPE)
            if old == 0 and proof:
                return Reply(400, "the proof from size 0 is empty\n")
            if old and old == checkpoint.size:
                if base64.b64decode(known["root"]) != checkpoint.root_hash:
                    return Reply(409, f"{known['size']}\n", SIZE_TYPE)
            elif old:
                try:
                    merkle.verify_consistency(old, checkpoint.size, proof,
                                              base64.b64decode(known["root"]), checkpoint.root_hash)
                except merkle.ProofError:
                    return Reply(422, "the consistency proof does not verify\n")
            state[origin] = {"size": checkpoint.size,
                             "root": base64.b64encode(checkpoint.root_hash).decode()}
            self.state.save(state)  # durable before the cosignature leaves
        return Reply(200, self.cosigner.cosign(body, int(self.clock())))
