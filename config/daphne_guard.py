"""The Daphne edge of the request body limits (``config.limits``).

Daphne (Twisted underneath) receives a request's whole body — in memory up to 100 kB, in a
temporary file beyond — before it starts the application, and then queues all of it to the
application at once in 8 KiB messages: a 700 MiB body grew a worker by 400 MiB that it kept. An
ASGI wrapper comes too late for that. This guard is Daphne's own request class with the limit
applied where the body arrives: when the headers are in (``gotLength``: a declared length over the
limit is refused before a byte of the body is read) and on every piece (``handleContentChunk``: a
chunked body, or one longer than declared, is refused as soon as the count passes the limit).

A refused request gets 413 in the error envelope at once; the rest of its body is read and dropped
(never stored), so a client that sends everything before reading still sees the answer; the
connection closes when the body ends or after ``LINGER_SECONDS``, whichever is first.

``install()`` swaps Daphne's request class for this one (``daphne.http_protocol.HTTPFactory`` looks
the class up by name each time it builds a connection); ``config.asgi`` calls it.
"""

from __future__ import annotations

import json
import logging
from io import BytesIO
from urllib.parse import unquote, urlsplit

from common import metrics

from .limits import body_limit, is_upload_chunk, refusal

log = logging.getLogger(__name__)
LINGER_SECONDS = 5.0
# Daphne hands a received body to the application in messages of its server's
# ``request_buffer_size`` (8 KiB, not settable from its command line): an 8 MiB upload chunk was
# 1,024 messages, each a turn of the event loop, of the body limit's count and of Django's read
# loop. Daphne queues the whole body at once whatever the message size, so larger messages cost no
# memory; they only cut that per-message work.
APP_MESSAGE_BYTES = 1 << 20
# Twisted reads a connection's socket 64 KiB at a time (its transports' ``bufferSize``), and each
# read is a turn through the HTTP parser and a write to the body's file: 128 of them for an 8 MiB
# upload chunk. A connection carrying an upload chunk reads up to 1 MiB at a time instead (what the
# socket holds, no more); the body is bounded by the limit either way.
UPLOAD_RECV_BYTES = 1 << 20


def _set_recv_size(transport, upload: bool) -> None:
    """Read an upload chunk's connection in pieces of ``UPLOAD_RECV_BYTES``, any other in
    Twisted's own (the class's ``bufferSize``)."""
    if transport is None or not hasattr(transport, "bufferSize"):
        return
    if upload:
        transport.bufferSize = UPLOAD_RECV_BYTES
    elif "bufferSize" in vars(transport):
        del transport.bufferSize


def _request_class():
    from daphne import http_protocol

    base = getattr(http_protocol, "_UNLIMITED_WEB_REQUEST", http_protocol.WebRequest)

    class LimitedWebRequest(base):
        _refused = False

        def gotLength(self, length):  # noqa: N802 - Twisted's name
            command = getattr(self.channel, "_command", b"") or b""
            target = getattr(self.channel, "_path", b"") or b""
            try:
                path = unquote(urlsplit(target.decode("ascii")).path)
            except UnicodeDecodeError:
                path = ""
            method = command.decode("latin-1").upper()
            self._body_limit = body_limit(method, path)
            _set_recv_size(getattr(self.channel, "transport", None), is_upload_chunk(method, path))
            self._body_received = 0
            server = getattr(self, "server", None)
            if server is not None and getattr(server, "request_buffer_size", APP_MESSAGE_BYTES) < APP_MESSAGE_BYTES:
                server.request_buffer_size = APP_MESSAGE_BYTES
            if length is not None and length > self._body_limit.max_bytes:
                self._refuse_body()
                return
            super().gotLength(length)
            if is_upload_chunk(method, path):
                from .upload_body import ReceivedBody

                self.content = ReceivedBody()  # kept in memory as it came, not in a temporary file

        def handleContentChunk(self, data):  # noqa: N802 - Twisted's name
            if self._refused:
                return  # dropped: a refused body is never stored
            self._body_received += len(data)
            if self._body_received > self._body_limit.max_bytes:
                self._refuse_body()
                return
            super().handleContentChunk(data)

        def _refuse_body(self):
            from twisted.internet import reactor

            self._refused = True
            if getattr(self, "content", None) is not None:
                self.content.close()
            self.content = BytesIO()
            # No "100 Continue" after the final answer.
            self.requestHeaders.removeHeader(b"Expect")
            body = json.dumps(refusal(self._body_limit)).encode()
            transport = self.channel.transport
            transport.write(b"HTTP/1.1 413 Content Too Large\r\nContent-Type: application/json\r\n"
                            b"Content-Length: %d\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n"
                            % len(body) + body)
            self._linger = reactor.callLater(LINGER_SECONDS, self._close_refused)
            log.info("refused a request body over %d bytes (%s)", self._body_limit.max_bytes,
                     self._body_limit.code.value)
            metrics.BODIES_REFUSED.labels(self._body_limit.code.value, "daphne").inc()

        def _close_refused(self):
            transport = getattr(self.channel, "transport", None)
            if transport is not None:
                transport.loseConnection()

        def process(self):
            if self._refused:
                # The whole refused body has been read (and dropped): nothing left to answer.
                if self._linger.active():
                    self._linger.cancel()
                self._close_refused()
                return None
            return super().process()

        def connectionLost(self, reason):  # noqa: N802 - Twisted's name
            linger = getattr(self, "_linger", None)
            if linger is not None and linger.active():
                linger.cancel()
            return super().connectionLost(reason)

    return LimitedWebRequest


def install() -> None:
    """Make every connection Daphne builds from now on use the limited request class."""
    from daphne import http_protocol

    if getattr(http_protocol, "_UNLIMITED_WEB_REQUEST", None) is not None:
        return
    http_protocol._UNLIMITED_WEB_REQUEST = http_protocol.WebRequest
    http_protocol.WebRequest = _request_class()
