"""A throw-away receiver for ``make prod-check``: the stack's outbox worker (``exchange_deliver``,
deploy/Procfile's ``outbox``) must push the demo's events to it, signed so they verify offline
with the key the platform publishes (docs/data-exchange.md, "Signed pushes"). Standard library and
``crypto.httpsig`` only."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from crypto import httpsig


class Receiver:
    """Records each push (its idempotency key, kind, key id); answers 200 to every push that verifies."""

    def __init__(self):
        self.public_key: bytes | None = None
        self.received: dict[str, dict] = {}
        self.refused = 0
        self.ready = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not receiver.ready.is_set():  # the key is read from the stack once it is up:
                    self.send_response(503)      # until then a failure, which the worker retries
                    self.end_headers()
                    return
                try:
                    keyid = httpsig.verify_request(receiver.public_key, method="POST", target_uri=receiver.url,
                                                   headers=dict(self.headers), body=body, now=int(time.time()))
                except httpsig.HttpSignatureError:
                    receiver.refused += 1
                    self.send_response(401)
                    self.end_headers()
                    return
                event = json.loads(body)
                receiver.received.setdefault(self.headers["Idempotency-Key"],
                                             {"kind": event["kind"], "keyid": keyid})
                self.send_response(200)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/push"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def trust(self, key_document: dict) -> None:
        self.public_key = base64.b64decode(key_document["public_key"])
        self.keyid = key_document["keyid"]
        self.ready.set()

    def wait_for(self, count: int, timeout: float = 90) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= count:
                return True
            time.sleep(0.2)
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
