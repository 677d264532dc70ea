"""Upload chunks' bodies reach the view as the messages that brought them (config/upload_body.py,
issue 22): read back in order and whole, without a copy where a read takes a message whole, let go
as they are read; a client that leaves before its body is in aborts the request as Django's own
reader does; every other request's body is Django's spooled file as before. A connection carrying
an upload chunk is read from its socket in 1 MiB pieces (config/daphne_guard.py)."""

from __future__ import annotations

import os

import pytest
from django.core.exceptions import RequestAborted

from config.daphne_guard import UPLOAD_RECV_BYTES, _set_recv_size
from config.limits import is_upload_chunk
from config.upload_body import MessageBody, PlatformASGIHandler, _UploadReceive

MiB = 2**20


def test_reads_return_what_was_asked_across_messages():
    pieces = [os.urandom(n) for n in (5, 0, 7, 3)]
    body = MessageBody(pieces)
    whole = b"".join(pieces)
    assert len(body) == 15
    assert body.read(4) == whole[:4]
    assert body.read(6) == whole[4:10]  # the rest of the first message and part of the next
    assert len(body) == 5
    assert body.read(100) == whole[10:]
    assert body.read(1) == b"" and body.read() == b""


def test_a_message_read_whole_is_not_copied_and_is_let_go():
    pieces = [os.urandom(MiB), os.urandom(MiB)]
    body = MessageBody(pieces)
    first = body.read(MiB)
    assert first is pieces[0]
    assert body.read(MiB) is pieces[1]
    assert body.read(MiB) == b""
    assert len(body._pieces) == 0  # nothing of the body is held by the stream any more


def test_read_all_readline_and_close():
    body = MessageBody([b"ab\ncd", b"\nef"])
    assert body.readline() == b"ab\n"
    assert body.read() == b"cd\nef"
    body = MessageBody([b"xyz"])
    body.close()
    with pytest.raises(ValueError):
        body.read(1)


def _receive(messages):
    queue = list(messages)

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}
    return receive


async def test_the_handler_keeps_an_upload_chunks_messages():
    handler = PlatformASGIHandler.__new__(PlatformASGIHandler)  # read_body needs no middleware
    parts = [os.urandom(MiB), os.urandom(1000)]
    body = await handler.read_body(_UploadReceive(_receive([
        {"type": "http.request", "body": parts[0], "more_body": True},
        {"type": "http.request", "body": parts[1], "more_body": False}])))
    assert isinstance(body, MessageBody)
    assert body.read(MiB) is parts[0] and body.read(MiB) == parts[1]


async def test_a_client_gone_before_its_body_is_in_aborts_the_request():
    handler = PlatformASGIHandler.__new__(PlatformASGIHandler)
    with pytest.raises(RequestAborted):
        await handler.read_body(_UploadReceive(_receive([
            {"type": "http.request", "body": b"x" * 10, "more_body": True}])))


async def test_other_bodies_are_spooled_by_django(settings):
    handler = PlatformASGIHandler.__new__(PlatformASGIHandler)
    body = await handler.read_body(_receive([{"type": "http.request", "body": b"{}", "more_body": False}]))
    assert not isinstance(body, MessageBody)
    assert body.read() == b"{}"


def test_only_upload_chunks_are_kept_as_messages():
    assert is_upload_chunk("PATCH", "/api/v1/uploads/0b8f4a9e-1c1e-4f7a-9a55-1f0c7d1b2a3c")
    assert is_upload_chunk("PUT", "/api/v1/uploads/abc/")
    assert not is_upload_chunk("POST", "/api/v1/uploads/abc")
    assert not is_upload_chunk("PATCH", "/api/v1/uploads/abc/complete")
    assert not is_upload_chunk("PATCH", "/api/v1/lots/1")


def test_an_upload_chunks_connection_is_read_in_larger_pieces():
    class Transport:
        bufferSize = 65536  # Twisted's class default

    transport = Transport()
    _set_recv_size(transport, True)
    assert transport.bufferSize == UPLOAD_RECV_BYTES == MiB
    _set_recv_size(transport, True)
    _set_recv_size(transport, False)  # the next request on the connection is not an upload
    assert transport.bufferSize == 65536 and "bufferSize" not in vars(transport)
    _set_recv_size(None, True)  # no transport (a test channel): nothing to do


def test_the_platform_serves_http_through_this_handler():
    from config.asgi import application
    from config.bodylimit import BodyLimit

    http = application.application_mapping["http"]
    assert isinstance(http, BodyLimit) and isinstance(http.app, PlatformASGIHandler)


def test_twisted_keeps_an_upload_chunks_body_as_it_came_and_daphne_reads_exact_pieces():
    """What Twisted (write, tell, seek(0)) and Daphne (read(request_buffer_size) until a short
    one) do with a request's ``content``: the pieces come back in order, each message exactly the
    size asked but the last, a socket read taken whole is not copied, and nothing is held after."""
    from config.upload_body import ReceivedBody

    socket_reads = [os.urandom(n) for n in (MiB, 300_000, 700_000, 48_576, MiB, 12)]
    body = ReceivedBody()
    for piece in socket_reads:
        body.write(piece)
    whole = b"".join(socket_reads)
    assert body.tell() == len(whole)  # Twisted's content length
    body.seek(0, 0)
    body.seek(0, 0)  # Daphne seeks again before reading
    messages = []
    while True:  # Daphne's loop
        chunk = body.read(MiB)
        messages.append(chunk)
        if len(chunk) < MiB:
            break
    assert b"".join(messages) == whole
    assert [len(m) for m in messages] == [MiB, MiB, MiB, 12]
    assert messages[0] is socket_reads[0]
    assert len(body) == 0 and not body._pieces
    with pytest.raises(OSError):
        body.write(b"late")  # nothing is written once it is being read
    with pytest.raises(OSError):
        body.seek(0)  # and it cannot be read twice


def test_the_daphne_guard_gives_upload_chunks_that_body_and_other_requests_twisteds():
    from types import SimpleNamespace

    from config.daphne_guard import _request_class
    from config.upload_body import ReceivedBody

    cls = _request_class()

    def content(method: bytes, path: bytes, length: int):
        request = cls.__new__(cls)
        request.channel = SimpleNamespace(_command=method, _path=path, transport=None)
        request.gotLength(length)
        return request.content

    assert isinstance(content(b"PATCH", b"/api/v1/uploads/0b8f4a9e-1c1e-4f7a-9a55-1f0c7d1b2a3c", 8 * MiB),
                      ReceivedBody)
    other = content(b"POST", b"/api/v1/lots/1/uploads", 200)
    assert not isinstance(other, ReceivedBody)


def test_a_body_that_arrives_slowly_goes_on_in_a_temporary_file(monkeypatch):
    """A slow client's body (still arriving ``SPILL_SECONDS`` after its first byte) is not held in
    memory for as long as it trickles: what had come and the rest go to a temporary file, read back
    as Twisted's own would be."""
    from config import upload_body
    from config.upload_body import ReceivedBody

    clock = iter([0.0, 0.5, 1.5, 1.6])
    monkeypatch.setattr(upload_body.time, "monotonic", lambda: next(clock))
    pieces = [os.urandom(n) for n in (700_000, 500_000, 900_000, 10)]
    body = ReceivedBody()
    body.write(pieces[0])
    body.write(pieces[1])
    assert body.spilled is None and len(body._pieces) == 2
    body.write(pieces[2])  # 1.5 s after the first byte
    assert body.spilled is not None and not body._pieces
    body.write(pieces[3])
    assert body.tell() == sum(map(len, pieces))
    body.seek(0, 0)
    got = []
    while len(chunk := body.read(MiB)) == MiB:
        got.append(chunk)
    assert b"".join(got + [chunk]) == b"".join(pieces)
    body.close()
    assert body.spilled.closed
