"""Durable files of sealed bids under ``settings.STORAGE_DIR/bids``.

Partial uploads are ``partial/<upload id>.part``; completed envelopes are
``<lot id>/<organisation id>/<submission id>.tenv``. Every byte acknowledged to a client has been
fsync'd. Completing is commit first, then move (docs/sealbid.md, "Crash safety"): the completed
upload is fsync'd where it is, the submission row that names its final place commits, and only then
is the file renamed into that place and both directories fsync'd. A file under its final name thus
always has its row; a committed row whose file is still the partial one is finished by
``finish_placement`` (a retried ``complete``, any reader, the deadline, ``manage.py sweep_uploads``).
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from common.errors import ErrorCode, PlatformError

# Request bodies are written to disk in pieces of this size: Daphne's messages' size (the Daphne
# guard's APP_MESSAGE_BYTES), so each message the handler kept (config/upload_body.py) is written
# as it is, without a copy; the body is in memory already, so the piece adds none.
PIECE = 1 << 20
LOCK_POLL_SECONDS = 0.002  # how often a request waiting for an upload's lock tries again


def root() -> Path:
    return Path(settings.STORAGE_DIR) / "bids"


def partial_path(upload_id) -> Path:
    return root() / "partial" / f"{upload_id}.part"


def final_relpath(lot_id: int, organisation_id: int, submission_id) -> str:
    return f"bids/{lot_id}/{organisation_id}/{submission_id}.tenv"


def absolute(relpath: str) -> Path:
    return Path(settings.STORAGE_DIR) / relpath


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _makedirs(path: Path) -> None:
    """Create ``path`` and fsync each parent whose entry list changed."""
    missing = []
    p = path
    while not p.exists():
        missing.append(p)
        p = p.parent
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        fsync_dir(d.parent)


def create_partial(upload_id) -> Path:
    path = partial_path(upload_id)
    _makedirs(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.fsync(fd)
    os.close(fd)
    fsync_dir(path.parent)
    return path


@contextmanager
def locked(path: Path, *, wait_until: float | None = None) -> Iterator[int]:
    """The file open for reading and writing under an exclusive ``flock``: a second request on the
    same upload gets ``upload_busy`` instead of interleaving its bytes — at once, or, with
    ``wait_until`` (a ``time.monotonic()`` moment), once the lock is still held then."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        raise PlatformError(ErrorCode.NOT_FOUND, "upload not found") from None
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if wait_until is None or time.monotonic() >= wait_until:
                    raise PlatformError(ErrorCode.UPLOAD_BUSY, "another request is writing this upload") from None
                time.sleep(LOCK_POLL_SECONDS)
        yield fd
    finally:
        os.close(fd)


def append(fd: int, offset: int, read: Callable[[int], bytes], length: int) -> int:
    """Write up to ``length`` bytes from ``read`` at ``offset``, fsync, and return how many arrived.

    Bytes past ``offset`` left by an earlier request that died before its offset was recorded are
    cut first. A body cut short (the client's link dropped) keeps what arrived: the client asks
    for the offset and resumes from there.
    """
    if os.fstat(fd).st_size < offset:
        raise PlatformError(ErrorCode.INTERNAL, "the stored upload is shorter than its offset")
    os.ftruncate(fd, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    written = 0
    try:
        while written < length:
            piece = read(min(PIECE, length - written))
            if not piece:
                break
            view = memoryview(piece)
            while view:
                n = os.write(fd, view)
                view = view[n:]
            written += len(piece)
    finally:
        # Whatever arrived, including after an error reading the body, is made durable and counted.
        os.fsync(fd)
    return written


def sha256_of(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as f:
        while n := f.readinto(buf):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


def sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def place(partial: Path, relpath: str) -> Path:
    """fsync the completed upload, rename it to its final place, fsync both directories."""
    final = absolute(relpath)
    _makedirs(final.parent)
    sync(partial)
    os.replace(partial, final)
    fsync_dir(final.parent)
    fsync_dir(partial.parent)
    return final


def remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def finish_placement(upload_id, relpath: str, sha256: str) -> Path:
    """The final file of a committed submission, moving it from its partial place first if a crash
    came between the commit and the move. The partial file must still have the receipted SHA-256;
    anything else is a platform fault, reported as such (``internal_error``) and left in place."""
    final = absolute(relpath)
    if final.exists():
        return final
    partial = partial_path(upload_id)
    try:
        with locked(partial):
            if final.exists():  # another request finished it while we waited for the lock
                return final
            digest, _ = sha256_of(partial)
            if digest != sha256:
                raise PlatformError(ErrorCode.INTERNAL, "the stored upload does not have the "
                                    "receipted SHA-256", details={"upload": str(upload_id)})
            return place(partial, relpath)
    except PlatformError as exc:
        if exc.code == ErrorCode.NOT_FOUND and final.exists():
            return final  # moved between our two looks
        if exc.code == ErrorCode.NOT_FOUND:
            raise PlatformError(ErrorCode.INTERNAL, "the stored bid file is missing",
                                details={"upload": str(upload_id), "path": relpath}) from None
        raise


def stored_envelope(submission) -> Path:
    """The path to read a submission's envelope from, its move finished first if a crash
    interrupted it. ``FileNotFoundError`` when neither the file nor a partial one with the
    receipted bytes is there (the readers classify that as the platform's fault)."""
    final = absolute(submission.path)
    if final.exists() or not submission.upload_id:
        return final
    try:
        return finish_placement(submission.upload_id, submission.path, submission.sha256)
    except PlatformError as exc:
        if exc.code == ErrorCode.UPLOAD_BUSY:
            raise  # being moved right now: try again
        raise FileNotFoundError(str(final)) from None
