"""A real RFC 3161 time-stamping authority for the tests: OpenSSL's ``openssl ts -reply`` behind a
small HTTP server on 127.0.0.1 (``application/timestamp-query`` in, ``…-reply`` out), with its own
P-256 root and a TSA certificate carrying the critical timeStamping extended key usage."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.conftest import need_tool

CONFIG = """[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = {dir}/serial
signer_cert = {dir}/tsa.pem
certs = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
other_policies = 1.2.3.4.2
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = no
tsa_name = no
ess_cert_id_chain = no
ess_cert_id_alg = sha256
crypto_device = builtin
"""


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run([need_tool("openssl"), *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_authority(directory: Path, name: str = "Test TSA") -> None:
    """A root (``ca.pem``) and a TSA key and certificate signed by it, in ``directory``."""
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-subj", f"/CN={name} Root",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
             "tsa.key", "-out", "tsa.csr", "-subj", f"/CN={name}", cwd=directory)
    (directory / "ext.cnf").write_text("basicConstraints=critical,CA:FALSE\n"
                                       "keyUsage=critical,digitalSignature\n"
                                       "extendedKeyUsage=critical,timeStamping\n")
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "tsa.pem", "-days", "3650", "-extfile", "ext.cnf", cwd=directory)
    (directory / "serial").write_text("01\n")
    (directory / "ts.cnf").write_text(CONFIG.format(dir=directory))


class LocalTSA:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tsa-"))
        make_authority(self.dir)
        self.root_pem = (self.dir / "ca.pem").read_bytes()
        self.requests = 0
        lock = threading.Lock()
        tsa = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                query = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:  # openssl ts increments the serial file
                    tsa.requests += 1
                    (tsa.dir / "q.tsq").write_bytes(query)
                    done = subprocess.run([need_tool("openssl"), "ts", "-reply", "-config", str(tsa.dir / "ts.cnf"),
                                           "-queryfile", "q.tsq", "-out", "r.tsr"], cwd=tsa.dir,
                                          capture_output=True, timeout=60)
                    reply = (tsa.dir / "r.tsr").read_bytes() if done.returncode == 0 else b""
                self.send_response(200 if reply else 500)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        shutil.rmtree(self.dir, ignore_errors=True)
