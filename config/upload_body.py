"""The body of an upload chunk (``PATCH /api/v1/uploads/{id}``) reaches the view as the messages
that brought it, not copied again (issue 22).

Django's ``ASGIHandler`` copies every request body into a ``SpooledTemporaryFile`` before the view
runs: an 8 MiB chunk went into memory up to ``FILE_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB), was rolled
over into a temporary file on disk, and was read back from it by the view, which then wrote it to
the upload's own file — two more copies and a temporary file per PATCH, on the event loop's thread.
Here, for upload chunks only, the handler keeps the ``http.request`` messages' own ``bytes`` and the
view reads them in order (``MessageBody``); each message is let go once read, so the body leaves
memory as it reaches the upload's file.

Memory is the same bound as before: the body limit (``config.limits``, enforced by the Daphne guard
and by ``config.bodylimit`` before the handler sees a byte past it) caps a chunk at
``BID_UPLOAD_MAX_CHUNK_BYTES``, and Daphne had queued the whole body as messages already before the
application started. Every other request is read by Django as usual.
"""

from __future__ import annotations

import io
import tempfile
import time
from collections import deque

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler

from .limits import is_upload_chunk


class MessageBody(io.IOBase):
    """A read-only stream over a request body held as the ``bytes`` of its messages. ``read(n)``
    returns ``min(n, what is left)`` bytes like a file; a message read whole (from its start, with
    ``n`` at least its length) is returned as it is, without a copy."""

    def __init__(self, pieces: list[bytes]):
        self._pieces = deque(p for p in pieces if p)
        self._at = 0  # how much of the first piece was read already
        self._left = sum(len(p) for p in self._pieces)

    def readable(self) -> bool:
        return True

    def __len__(self) -> int:
        return self._left

    def read(self, size: int | None = -1, /) -> bytes:
        self._checkClosed()
        want = self._left if size is None or size < 0 else min(size, self._left)
        out = []
        while want:
            head = self._pieces[0]
            if self._at == 0 and len(head) <= want:
                out.append(self._pieces.popleft())
                taken = len(head)
            else:
                taken = min(want, len(head) - self._at)
                out.append(head[self._at:self._at + taken])
                self._at += taken
                if self._at == len(head):
                    self._pieces.popleft()
                    self._at = 0
            want -= taken
            self._left -= taken
        return out[0] if len(out) == 1 else b"".join(out)

    def close(self) -> None:
        self._pieces.clear()
        self._left = 0
        super().close()


class ReceivedBody(MessageBody):
    """Twisted's ``Request.content`` for an upload chunk (``config.daphne_guard``): the pieces read
    from the socket are kept as they came, where Twisted writes every body over 100 kB to a
    temporary file for Daphne to read back into its messages — a write, a read and a copy of each
    byte on the event loop's thread, about a third of that thread's samples in a browser's 200 MiB
    upload (py-spy, issue 22). Daphne reads it in exact ``request_buffer_size`` pieces (a shorter
    one ends the body), which ``MessageBody.read`` gives: a piece taken whole is not copied,
    smaller ones are joined once.

    A body still arriving ``SPILL_SECONDS`` after its first byte (a slow link: the proxy streams
    upload bodies) goes on in a temporary file, as before, with what had come: memory held while
    bodies arrive is thus at most what the connections bring in that time, whatever the number of
    slow clients, and never more than the chunk limit per request (the guard refuses the rest)."""

    SPILL_SECONDS = 1.0

    def __init__(self):
        super().__init__([])
        self._written = 0
        self._reading = False
        self._started: float | None = None
        self.spilled = None  # the temporary file, once the body has been slow

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._checkClosed()
        if self._reading:
            raise io.UnsupportedOperation("the body is being read")
        if not data:
            return 0
        now = time.monotonic()
        if self._started is None:
            self._started = now
        if self.spilled is None and now - self._started > self.SPILL_SECONDS:
            self.spilled = tempfile.TemporaryFile()
            for piece in self._pieces:
                self.spilled.write(piece)
            self._pieces.clear()
            self._left = 0
        if self.spilled is not None:
            self.spilled.write(data)
        else:
            self._pieces.append(data if isinstance(data, bytes) else bytes(data))
            self._left += len(data)
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        if self.spilled is not None:
            return self.spilled.tell()
        return self._written - self._left if self._reading else self._written

    def seek(self, offset: int, whence: int = 0) -> int:
        """Only to the start, before anything is read (what Twisted and Daphne do)."""
        if self.spilled is not None:
            self._reading = True
            return self.spilled.seek(offset, whence)
        if (offset, whence) != (0, 0) or self._left != self._written:
            raise io.UnsupportedOperation("only seek(0) before reading")
        self._reading = True
        return 0

    def read(self, size: int | None = -1, /) -> bytes:
        if self.spilled is not None:
            self._checkClosed()
            self._reading = True
            return self.spilled.read(size)
        self._reading = True
        return super().read(size)

    def close(self) -> None:
        if self.spilled is not None:
            self.spilled.close()
        super().close()


class _UploadReceive:
    """``receive`` of an upload chunk's request: tells ``read_body`` to keep the messages."""

    def __init__(self, receive):
        self.receive = receive

    def __call__(self):
        return self.receive()


class PlatformASGIHandler(ASGIHandler):
    """Django's ASGI handler, with upload chunks' bodies kept as their messages."""

    async def handle(self, scope, receive, send):
        if is_upload_chunk(scope["method"], scope["path"]):
            receive = _UploadReceive(receive)
        return await super().handle(scope, receive, send)

    async def read_body(self, receive):
        if not isinstance(receive, _UploadReceive):
            return await super().read_body(receive)
        pieces = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise RequestAborted()  # as Django's: the client left before its body was in
            pieces.append(message.get("body", b""))
            if not message.get("more_body", False):
                return MessageBody(pieces)
