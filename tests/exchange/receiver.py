"""A real local HTTP receiver for the outbox tests: it verifies each push offline with the
platform's public key (docs/data-exchange.md), keeps each idempotency key once per path, and can
be told to fail (HTTP 500), to hang past the sender's timeout, or to refuse one tender's events."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crypto.httpsig import HttpSignatureError, verify_request


class Receiver:
    def __init__(self, public_key: bytes):
        self.public_key = public_key
        self.lock = threading.Lock()
        self.fail_next = 0  # answer 500 to this many pushes
        self.hang_next = 0  # sleep past the timeout on this many pushes
        self.hang_seconds = 2.0
        self.delay = 0.0  # every push takes this long (for the kill tests)
        self.refuse_tender: int | None = None
        self.received: list[tuple[str, str]] = []  # (path, key) of every push that verified
        self.kept: dict[str, list[dict]] = {}  # path -> the events kept, once per key, in arrival order
        self.bad_signatures = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status = receiver.handle(self.path, dict(self.headers.items()), body,
                                         f"http://127.0.0.1:{self.server.server_port}{self.path}")
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def handle(self, path: str, headers: dict, body: bytes, uri: str) -> int:
        with self.lock:
            if self.hang_next > 0:
                self.hang_next -= 1
                hang = True
            else:
                hang = False
            fail = self.fail_next > 0
            if fail and not hang:
                self.fail_next -= 1
        if hang:
            time.sleep(self.hang_seconds)
            return 503
        if fail:
            return 500
        if self.delay:
            time.sleep(self.delay)
        try:
            # The tests move the sender's clock days ahead: this receiver takes any creation time
            # (freshness is tested in test_httpsig.py).
            verify_request(self.public_key, method="POST", target_uri=uri, headers=headers, body=body,
                           now=int(time.time()) + 10 ** 8, max_age=2 * 10 ** 8)
        except HttpSignatureError:
            with self.lock:
                self.bad_signatures += 1
            return 401
        event = json.loads(body)
        key = headers.get("Idempotency-Key")
        if key != event["id"]:
            return 400
        if self.refuse_tender is not None and event["tender"] == self.refuse_tender:
            return 500
        with self.lock:
            self.received.append((path, key))
            kept = self.kept.setdefault(path, [])
            if all(e["id"] != key for e in kept):  # the idempotency key: each event once
                kept.append(event)
        return 200

    def close(self):
        self.server.shutdown()
        self.server.server_close()
