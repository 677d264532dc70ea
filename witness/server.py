"""``kaibiao-witness``: the witness as a small HTTP service (C2SP tlog-witness ``add-checkpoint``).

    kaibiao-witness init  --name NAME --key KEYFILE          # a new key; prints the witness's vkey
    kaibiao-witness vkey  --name NAME --key KEYFILE
    kaibiao-witness serve --name NAME --key KEYFILE --state STATEFILE --log LOG_VKEY \\
                          [--host 127.0.0.1] [--port 8750]

Listens on ``POST /add-checkpoint``; ``GET /state`` shows what it has cosigned (JSON). The key file
is a PEM Ed25519 key (password from ``WITNESS_KEY_PASSWORD``), readable only by the witness's user.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from crypto import signing
from crypto.checkpoint import NoteVerifier
from crypto.cosignature import Cosigner

from .core import MAX_REQUEST, StateFile, Witness


def _password() -> bytes | None:
    value = os.environ.get("WITNESS_KEY_PASSWORD")
    return value.encode() if value else None


def load_cosigner(name: str, key: Path) -> Cosigner:
    return Cosigner(name, signing.load_signing_key_pem(key.read_bytes(), _password()))


def make_handler(witness: Witness):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the spec asks clients and witnesses to use

        def _reply(self, status: int, body: str, content_type: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            if self.path != "/add-checkpoint":
                self._reply(404, "not found\n", "text/plain")
                return
            if not 0 < length <= MAX_REQUEST:
                self._reply(400, "a request body of 1 to 65536 bytes\n", "text/plain")
                return
            reply = witness.add_checkpoint(self.rfile.read(length))
            self._reply(reply.status, reply.body, reply.content_type)

        def do_GET(self):  # noqa: N802
            if self.path != "/state":
                self._reply(404, "not found\n", "text/plain")
                return
            state = {"witness": witness.cosigner.vkey, "logs": witness.state.load()}
            self._reply(200, json.dumps(state, sort_keys=True) + "\n", "application/json")

        def log_message(self, format, *args):  # noqa: A002 - quiet unless asked
            if os.environ.get("WITNESS_VERBOSE"):
                super().log_message(format, *args)

    return Handler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kaibiao-witness", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for command in ("init", "vkey", "serve"):
        p = sub.add_parser(command)
        p.add_argument("--name", required=True, help="the witness's name, e.g. witness.example.gov.cn/w1")
        p.add_argument("--key", required=True, type=Path, help="its Ed25519 private key (PEM)")
        if command == "serve":
            p.add_argument("--state", required=True, type=Path, help="where it keeps what it cosigned")
            p.add_argument("--log", action="append", required=True, help="a log's vkey (repeatable)")
            p.add_argument("--host", default="127.0.0.1")
            p.add_argument("--port", type=int, default=8750)
    args = parser.parse_args(argv)
    if args.command == "init":
        if args.key.exists():
            print(f"{args.key} exists; not overwriting it", file=sys.stderr)
            return 1
        pem = signing.signing_key_to_pem(signing.generate_signing_key(), _password())
        fd = os.open(args.key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
    cosigner = load_cosigner(args.name, args.key)
    if args.command in ("init", "vkey"):
        print(cosigner.vkey)
        return 0
    witness = Witness(cosigner, [NoteVerifier.from_vkey(v) for v in args.log], StateFile(args.state))
    server = ThreadingHTTPServer((args.host, args.port), make_handler(witness))
    print(f"witness {cosigner.vkey} listening on http://{args.host}:{server.server_port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
