"""The smoke test ``make prod-check`` runs through the TLS proxy (``tools/prod_check.py``), against the
demo data: every request goes to nginx over HTTPS with certificate verification against the
self-signed certificate, never to a worker directly (except the check that both workers answer).

1. ``/healthz`` answers 200 with PostgreSQL and the Redis layer; both workers answer on their sockets.
2. A page over HTTPS: the home page in Chinese, with HSTS; plain requests are never served.
3. The host signs in through the page (CSRF over HTTPS) sending a forged ``X-Forwarded-For``; the
   audit log records the address nginx saw, not the forged one.
4. The host's WebSocket joins the demo tender's hall over wss (Origin on the allow-list).
5. A bidder uploads a sealed bid with the API (``sealbid``: key, certificate request approved by the
   host through the API, seal, resumable upload in chunks, receipt verified offline).
6. The proxy refuses a body over ``JSON_BODY_MAX_BYTES`` and a chunk over
   ``BID_UPLOAD_MAX_CHUNK_BYTES`` with the platform's JSON error envelope.
7. ``/media/events`` (Janus's event handler) is not served through the proxy: 404 there, while a
   worker's own socket answers it (401 without Janus's secret).
8. ``/metrics`` refuses a scrape without the token and, with it, reports the upload's bytes summed
   over both workers (multiprocess mode), the ticker's heartbeat, the join and the audit figures.
"""

from __future__ import annotations

import asyncio
import http.client
import http.cookiejar
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

FORGED = "203.0.113.66"
DEMO_PASSWORD = "demo-kaibiao-2026"  # config/management/commands/load_demo.py

TOKENS = """
import json
from accounts.models import ApiToken, User
from bidding.models import Lot
lot = Lot.objects.get(project__code="NJSZ-2026-0188", code="01")
bidder = User.objects.get(username="bidder1")
print(json.dumps({"lot": lot.pk, "credit_code": bidder.organisation.credit_code,
                  "organisation": bidder.organisation.name,
                  "host": ApiToken.issue(User.objects.get(username="host"), "prod-check")[1],
                  "bidder": ApiToken.issue(bidder, "prod-check")[1]}))
"""
SIGN_IN_IP = """
import json, time
from audit.models import AuditEntry, AuditPending
for _ in range(100):  # batched sequencing: the entry may still be queued, or be indexed meanwhile
    ips = [e.ip for e in AuditEntry.objects.filter(action="accounts.session.signed_in", actor_name="host")]
    ips += [p.ip for p in AuditPending.objects.filter(action="accounts.session.signed_in", actor_name="host")]
    if ips:
        break
    time.sleep(0.05)
print(json.dumps(ips))
"""


class Session:
    """Cookies and certificate verification over urllib, like a browser on the platform."""

    def __init__(self, base: str, cafile: Path):
        self.base = base
        self.context = ssl.create_default_context(cafile=str(cafile))
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=self.context),
                                                  urllib.request.HTTPCookieProcessor(self.jar))

    def request(self, method: str, path: str, data: bytes | None = None, headers: dict | None = None):
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as res:
                return res.status, dict(res.headers), res.read()
        except urllib.error.HTTPError as exc:
            return exc.code, dict(exc.headers), exc.read()

    def cookie(self, name: str) -> str:
        return next((c.value for c in self.jar if c.name == name), "")


def manage(env: dict, root: Path, code: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", "shell", "-v", "0", "-c", code], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def worker_answers(sock_path: str, method: str = "GET", path: str = "/healthz", body: bytes | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", timeout=10)
    conn.sock = socket.socket(socket.AF_UNIX)
    conn.sock.settimeout(10)
    conn.sock.connect(sock_path)
    conn.request(method, path, body, headers={"Host": "127.0.0.1", "X-Forwarded-Proto": "https",
                                              "Content-Type": "application/json"})
    status = conn.getresponse().status
    conn.close()
    return status


def check_health(s: Session, env: dict) -> None:
    status, _, body = s.request("GET", "/healthz")
    health = json.loads(body)
    assert status == 200 and health["status"] == "ok", health
    assert health["database"]["vendor"] == "postgresql", health
    assert health["channel_layer"]["backend"] == "RedisPubSubChannelLayer", health
    assert "clock" not in health or health["clock"]["state"] in {"synchronised", "unsynchronised", "unknown"}
    for name in ("web1.sock", "web2.sock"):
        assert worker_answers(os.path.join(env["KAIBIAO_RUN_DIR"], name)) == 200, name


def check_page(s: Session) -> None:
    status, headers, body = s.request("GET", "/")
    text = body.decode()
    assert status == 200 and "不见面开标" in text and 'lang="zh-hans"' in text, status
    assert "max-age=31536000" in headers.get("Strict-Transport-Security", ""), headers
    status, _, css = s.request("GET", "/static/frontend/site.css")
    assert status == 200 and b"--accent" in css, status


def sign_in(s: Session, env: dict, root: Path) -> None:
    status, _, body = s.request("GET", "/login/")
    assert status == 200, status
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body.decode()).group(1)
    form = urllib.parse.urlencode({"username": "host", "password": DEMO_PASSWORD,
                                   "csrfmiddlewaretoken": token, "next": "/"}).encode()
    status, _, body = s.request("POST", "/login/", form, {
        "Content-Type": "application/x-www-form-urlencoded", "Referer": s.base + "/login/",
        "Origin": s.base, "X-Forwarded-For": FORGED})
    assert status == 200 and s.cookie("sessionid"), f"sign-in failed: {status}"
    ips = json.loads(manage(env, root, SIGN_IN_IP))
    assert ips and FORGED not in ips and all(ip == "127.0.0.1" for ip in ips), ips


async def _join(url: str, origin: str, cookie: str, context: ssl.SSLContext, room: str) -> dict:
    from websockets.asyncio.client import connect

    async with connect(url, ssl=context, origin=origin, additional_headers={"Cookie": f"sessionid={cookie}"},
                       open_timeout=20) as ws:
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["hello"]["role"] == "host", hello
        await ws.send(json.dumps({"v": 1, "id": "j1", "cmd": "room.join", "room": room, "payload": {}}))
        while True:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if frame.get("id") == "j1":
                return frame


def check_hall(s: Session, lot: int) -> None:
    url = s.base.replace("https://", "wss://") + "/ws/v1/"
    frame = asyncio.run(_join(url, s.base, s.cookie("sessionid"), s.context, f"hall:{lot}"))
    assert frame.get("ok") is True and frame["payload"]["role"] == "host", frame


def sealbid(base: str, cafile: Path, token: str, root: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEALBID_")}
    env.update(SEALBID_SERVER=base, SEALBID_TOKEN=token, SSL_CERT_FILE=str(cafile), PYTHONPATH=str(root))
    done = subprocess.run([sys.executable, "-m", "sealbid.cli", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"sealbid {args[0]}: {done.returncode} {done.stderr[-2000:]}"
    return done.stdout


def check_upload(s: Session, cafile: Path, info: dict, root: Path, tmp: Path) -> None:
    work = tmp / "bidder"
    (work / "docs").mkdir(parents=True)
    (work / "pw").write_text("prod-check 正确的密码\n")
    (work / "docs" / "商务标.txt").write_text("商务标内容\n" * 2000)
    (work / "docs" / "drawings.bin").write_bytes(os.urandom(3 * 2**20 + 123))
    key, envelope, pw = work / "key.json", work / "bid.tenv", str(work / "pw")
    token = info["bidder"]
    sealbid(s.base, cafile, token, root, "keygen", "--out", str(key), "--password-file", pw,
            "--iterations", "100000")
    sealbid(s.base, cafile, token, root, "csr", "--key", str(key), "--organisation", info["organisation"],
            "--credit-code", info["credit_code"], "--password-file", pw, "--submit")
    host = {"Authorization": f"Bearer {info['host']}", "Content-Type": "application/json"}
    status, _, body = s.request("GET", "/api/v1/certificates?status=pending", headers=host)
    pending = json.loads(body)
    assert status == 200 and len(pending) == 1, body
    status, _, body = s.request("POST", f"/api/v1/certificates/{pending[0]['id']}/approve", b"{}", host)
    assert status == 200 and json.loads(body)["status"] == "issued", body
    sealbid(s.base, cafile, token, root, "seal", "--lot", str(info["lot"]), "--key", str(key),
            "--field", "price=1234567.89", "--field", "duration_days=180", "--field", "quality=合格",
            "--out", str(envelope), str(work / "docs"))
    out = sealbid(s.base, cafile, token, root, "submit", "--lot", str(info["lot"]), "--chunk-size",
                  str(1 << 20), "--quiet", str(envelope))
    assert "receipt verified" in out, out


def check_limits(s: Session, info: dict, env: dict, root: Path) -> None:
    limits = json.loads(manage(env, root, "import json; from config.nginx import json_body_max_bytes, "
                                          "upload_chunk_max_bytes; print(json.dumps([json_body_max_bytes(), "
                                          "upload_chunk_max_bytes()]))"))
    json_max, chunk_max = limits
    auth = {"Authorization": f"Bearer {info['bidder']}", "Content-Type": "application/json"}
    status, headers, body = s.request("POST", f"/api/v1/lots/{info['lot']}/uploads", b"{" + b" " * json_max + b"}",
                                      auth)
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large", (status, body[:200])
    status, _, body = s.request("PATCH", "/api/v1/uploads/0123456789abcdef", b"x" * (chunk_max + 1),
                                {**auth, "Content-Type": "application/offset+octet-stream"})
    assert status == 413 and json.loads(body)["error"]["code"] == "chunk_too_large", (status, body[:200])


def check_media_private(s: Session, env: dict) -> None:
    event = json.dumps({"type": 64, "event": {"plugin": "janus.plugin.videoroom"}}).encode()
    status, _, body = s.request("POST", "/media/events", event, {"Content-Type": "application/json"})
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found", (status, body[:200])
    direct = worker_answers(os.path.join(env["KAIBIAO_RUN_DIR"], "web1.sock"), "POST", "/media/events", event)
    assert direct == 401, f"a worker answers /media/events with {direct}, not 401: the check proves nothing"


def metric(text: str, name: str) -> list[float]:
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
            if line.startswith(name + " ") or line.startswith(name + "{")]


def check_metrics(s: Session, env: dict, envelope_bytes: int) -> None:
    status, _, body = s.request("GET", "/metrics")
    assert status == 401 and json.loads(body)["error"]["code"] == "unauthenticated", status
    status, _, body = s.request("GET", "/metrics", headers={"Authorization": f"Bearer {env['METRICS_TOKEN']}"})
    assert status == 200, status
    text = body.decode()
    # Summed over both workers, whichever answered: the chunks went to either.
    assert metric(text, "kaibiao_upload_bytes_total") == [float(envelope_bytes)], metric(
        text, "kaibiao_upload_bytes_total")
    heartbeat = metric(text, "kaibiao_ticker_heartbeat_timestamp_seconds")
    assert heartbeat and time.time() - heartbeat[0] < 15, heartbeat
    assert metric(text, "kaibiao_room_joins_total"), "no join counted"
    assert metric(text, "kaibiao_audit_pending_entries") and metric(text, "kaibiao_audit_log_entries")[0] > 0


def trust_exchange_key(s: Session, receiver) -> dict:
    """The receiver learns the key from the stack (as a receiving platform would); until then it
    answers 503 and the worker retries."""
    status, _, body = s.request("GET", "/api/v1/exchange/key")
    assert status == 200, status
    document = json.loads(body)
    receiver.trust(document)
    return document


def check_outbox(receiver, document: dict) -> None:
    """The Procfile's ``outbox`` worker pushed the demo's events, signed with the published key."""
    assert receiver.wait_for(1), "no push reached the receiver: is the outbox worker running?"
    assert receiver.refused == 0, f"{receiver.refused} pushes did not verify"
    assert {r["keyid"] for r in receiver.received.values()} == {document["keyid"]}
    assert "tender.published" in {r["kind"] for r in receiver.received.values()}


def check(*, base: str, cafile: Path, env: dict, root: Path, tmp: Path, receiver=None) -> None:
    info = json.loads(manage(env, root, TOKENS))
    s = Session(base, cafile)
    key_document = trust_exchange_key(s, receiver) if receiver is not None else None
    for name, run in (("health and both workers", lambda: check_health(s, env)),
                      ("a page over HTTPS", lambda: check_page(s)),
                      ("sign-in, forged X-Forwarded-For", lambda: sign_in(s, env, root)),
                      ("WebSocket join over wss", lambda: check_hall(s, info["lot"])),
                      ("a bid uploaded with the API", lambda: check_upload(s, cafile, info, root, tmp)),
                      ("body limits at the proxy", lambda: check_limits(s, info, env, root)),
                      ("/media/ not public", lambda: check_media_private(s, env)),
                      ("metrics over both workers", lambda: check_metrics(
                          s, env, (tmp / "bidder" / "bid.tenv").stat().st_size)),
                      ("the outbox's signed pushes", lambda: check_outbox(receiver, key_document))):
        started = time.monotonic()
        try:
            run()
        except AssertionError as exc:
            raise AssertionError(f"smoke: {name}: {exc}") from None
        print(f"prod-check:   {name}: ok ({time.monotonic() - started:.1f} s)", flush=True)
