"""A running SHA-256 of each open upload's stored bytes, so that ``complete`` need not read the
whole file again (issue 22: that re-read was ~120 ms of a 200 MiB upload's completion, on the
request's thread, after the last byte was in).

The hash is the server's own: each PATCH feeds it the bytes it has just written to the upload's
file (``storage.append``), never anything the client says. It is kept in the memory of the process
that wrote them, as ``(offset, hash)``: the SHA-256 state of the file's first ``offset`` bytes.
That is sound because those bytes never change once they are below the durable offset: a PATCH
writes only at the durable offset (cutting whatever a dead request left past it), under the
upload's lock, and an entry is kept only once the new durable offset is committed.

The platform runs several worker processes, and the pieces of one upload may land on any of them.
A process whose entry is behind the durable offset (another process wrote the pieces between)
reads those bytes back from the file, under the lock, and hashes them (``CATCH_UP_BYTES`` at most
in a PATCH; further behind, it stops keeping one); an entry past the durable offset (its request
died before its offset was committed) is dropped. ``complete`` takes the entry, if any, and reads
from the file only what it does not cover — after a restart or on another process, all of it, as
before. At most ``KEEP`` uploads are kept per process (about 200 bytes each), the oldest let go.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict

KEEP = 256
CATCH_UP_BYTES = 32 << 20
_READ = 1 << 20

_lock = threading.Lock()
_running: OrderedDict[str, tuple[int, object]] = OrderedDict()


def _take(upload_id) -> tuple[int, object] | None:
    with _lock:
        return _running.pop(str(upload_id), None)


def keep(upload_id, offset: int, digest) -> None:
    """Remember ``digest``: the SHA-256 of the upload's first ``offset`` stored bytes (committed)."""
    with _lock:
        _running[str(upload_id)] = (offset, digest)
        _running.move_to_end(str(upload_id))
        while len(_running) > KEEP:
            _running.popitem(last=False)


def _feed(fd: int, digest, start: int, end: int) -> int:
    """Hash the file's bytes from ``start`` to ``end`` (or its end, if shorter); return where it stopped."""
    at = start
    while at < end:
        piece = os.pread(fd, min(_READ, end - at), at)
        if not piece:
            break
        digest.update(piece)
        at += len(piece)
    return at


def at_offset(fd: int, upload_id, offset: int):
    """The running SHA-256 of the file's first ``offset`` bytes (the durable offset, read under the
    upload's lock), taken out of the store: from the entry kept, caught up from the file if it is
    behind; a new one at offset 0. ``None`` (no running hash for this upload here any more) if the
    file would have to be read from further back than ``CATCH_UP_BYTES``."""
    return _at(fd, upload_id, offset, CATCH_UP_BYTES)


def _at(fd: int, upload_id, offset: int, catch_up: int | None):
    got = _take(upload_id)
    if got is not None and got[0] > offset:
        got = None  # its request died before its offset was committed: those bytes are cut
    start, digest = got if got is not None else (0, None)
    if catch_up is not None and offset - start > catch_up:
        return None
    digest = digest or hashlib.sha256()
    if _feed(fd, digest, start, offset) != offset:
        return None  # shorter than its offset: a platform fault the caller reports
    return digest


def file_sha256(fd: int, upload_id) -> tuple[str, int]:
    """The SHA-256 and size of the whole stored upload (at ``complete``, under its lock): the kept
    entry, if any, and the rest read from the file."""
    size = os.fstat(fd).st_size
    digest = _at(fd, upload_id, size, None)
    if digest is None:  # cannot happen (the size is the file's): read it all
        digest = hashlib.sha256()
        _feed(fd, digest, 0, size)
    return digest.hexdigest(), size
