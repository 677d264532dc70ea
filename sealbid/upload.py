"""Resumable submission of an envelope: the upload's id and the server's durable offset are kept
in a state file next to the envelope, so a run killed mid-upload resumes where the server stands.
Network errors are retried with exponential backoff; the server's offset is always asked again
after an error, never guessed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

from . import errors
from .client import NETWORK_ERRORS, Client
from .errors import CliError


def state_path(envelope: Path) -> Path:
    return envelope.with_name(envelope.name + ".upload.json")


def receipt_path(envelope: Path) -> Path:
    return envelope.with_name(envelope.name + ".receipt.json")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state, indent=2))
    os.replace(tmp, path)


class Progress:
    """A one-line progress bar on stderr (standard library only); silent when not a terminal
    unless forced."""

    def __init__(self, total: int, enabled: bool):
        self.total, self.enabled, self.start = total, enabled, time.monotonic()

    def update(self, done: int) -> None:
        if not self.enabled:
            return
        frac = done / self.total if self.total else 1.0
        rate = done / max(time.monotonic() - self.start, 1e-6) / 2**20
        bar = "#" * int(frac * 30)
        sys.stderr.write(f"\r[{bar:<30}] {frac:6.1%} {done / 2**20:8.1f}/{self.total / 2**20:.1f} MiB "
                         f"{rate:6.1f} MiB/s")
        sys.stderr.flush()

    def done(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def submit(client: Client, lot_id: int, envelope: Path, *, retries: int = 8, backoff: float = 1.0,
           max_backoff: float = 60.0,
           chunk_size: int = 8 << 20, progress: bool = True) -> dict[str, Any]:
    """Upload (or resume uploading) ``envelope`` and complete it; return the submission JSON."""
    size = envelope.stat().st_size
    sha256 = _sha256(envelope)
    spath = state_path(envelope)
    state = json.loads(spath.read_text()) if spath.exists() else None
    if state and (state.get("sha256"), state.get("lot"), state.get("server")) != (sha256, lot_id, client.base):
        state = None  # another envelope, lot or server: start afresh
    die_after = int(os.environ.get("SEALBID_TEST_DIE_AFTER_CHUNKS", "0"))  # tests: a killed run
    attempt = 0
    bar = Progress(size, progress)
    sent_chunks = 0
    while True:
        try:
            if state is None:
                created = client.json("POST", f"/lots/{lot_id}/uploads", body={"size": size, "sha256": sha256})
                state = {"server": client.base, "lot": lot_id, "upload": created["id"], "size": size,
                         "sha256": sha256}
                _save_state(spath, state)
            status = _upload_status(client, state["upload"])
            if status is None:  # gone (aborted, refused, expired): start a new upload
                spath.unlink(missing_ok=True)
                state = None
                continue
            if status["status"] == "complete":
                # Completed, but its answer was lost (the server or the link died): `complete` is
                # idempotent and gives the same submission and receipt again.
                result = _complete(client, state["upload"], retries, backoff, max_backoff)
                spath.unlink(missing_ok=True)
                return result
            offset, max_chunk = status["offset"], min(status["max_chunk_bytes"], chunk_size)
            with open(envelope, "rb") as f:
                while offset < size:
                    bar.update(offset)
                    f.seek(offset)
                    piece = f.read(min(max_chunk, size - offset))
                    _, headers, _ = client.request(
                        "PATCH", f"/uploads/{state['upload']}", data=piece,
                        headers={"Upload-Offset": str(offset), "Content-Type": "application/octet-stream"})
                    offset = int(headers["Upload-Offset"])
                    attempt = 0  # progress was made: the retry budget starts again
                    sent_chunks += 1
                    if die_after and sent_chunks >= die_after:
                        os.kill(os.getpid(), signal.SIGKILL)
            bar.update(offset)
            bar.done()
            result = _complete(client, state["upload"], retries, backoff, max_backoff)
            spath.unlink(missing_ok=True)
            return result
        except NETWORK_ERRORS as exc:
            attempt += 1
            if attempt > retries:
                raise CliError(f"network lost: {exc}; run the same command again to resume "
                               f"(state in {spath.name})", errors.NETWORK) from None
            delay = min(backoff * 2 ** (attempt - 1), max_backoff)
            sys.stderr.write(f"\nnetwork error ({exc}); retrying in {delay:.1f} s "
                             f"({attempt}/{retries})\n")
            time.sleep(delay)
        except CliError as exc:
            if exc.code == "upload_offset_mismatch":
                continue  # ask the server where it stands and go on from there
            if exc.code == "upload_lost":  # the server lost the bytes: start a new upload
                spath.unlink(missing_ok=True)
                state = None
                continue
            if exc.code in ("upload_busy",) and attempt < retries:
                attempt += 1
                time.sleep(backoff)
                continue
            if exc.exit_code in (errors.REFUSED, errors.CERTIFICATE, errors.DEADLINE_PASSED):
                spath.unlink(missing_ok=True)  # the server removed the upload; so do we
            raise


PENDING_HINT = ("every byte is on the server and the completion is recorded: the bid is kept even "
                "past the deadline and receipted with the time it was asked for")


def _complete(client: Client, upload_id: str, retries: int, backoff: float, max_backoff: float) -> Any:
    """``complete``, asked again while the platform cannot sign (503 ``signing_unavailable``): the
    completion is pending, not lost (docs/envelope.md, "A completion that could not be signed").
    After ``retries`` attempts the error goes up (exit 7) with the state file kept: run again."""
    attempt = 0
    while True:
        try:
            return client.request("POST", f"/uploads/{upload_id}/complete")[2]
        except CliError as exc:
            if exc.code != "signing_unavailable":
                raise
            attempt += 1
            if attempt > retries:
                raise CliError(f"{exc.message}; {PENDING_HINT}; run the same command again to complete it "
                               "(the platform also completes it by itself once it signs again)",
                               exc.exit_code, code=exc.code) from None
            delay = min(backoff * 2 ** (attempt - 1), max_backoff)
            sys.stderr.write(f"\nthe platform cannot sign now; {PENDING_HINT}; asking again in {delay:.1f} s "
                             f"({attempt}/{retries})\n")
            time.sleep(delay)


def _upload_status(client: Client, upload_id: str) -> dict[str, Any] | None:
    try:
        status = client.json("GET", f"/uploads/{upload_id}")
    except CliError as exc:
        if exc.code == "not_found":
            return None
        raise
    return status if status["status"] in ("open", "complete") else None
