"""Bounded memory for every request (config/limits.py): a real Daphne refuses a body over its
endpoint's limit as it arrives — before buffering it — with 413 in the error envelope, for
anonymous and signed-in requests, whether the body declares its length or is chunked; its
resident memory does not grow. The ASGI wrapper does the same for any other server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.test_smoke_demo import ROOT, demo_env, free_port, manage

MiB = 2**20
METRICS_TOKEN = "body-limits-test-token"
PIECE = b"\0" * (64 * 1024)


@pytest.fixture(scope="module")
def daphne(tmp_path_factory):
    env = demo_env(tmp_path_factory.mktemp("var"))
    env["METRICS_TOKEN"] = METRICS_TOKEN
    manage(env, "migrate", "--noinput", "-v", "0")  # /metrics reads the audit log's figures
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/time", timeout=5)
            break
        except OSError:
            assert time.monotonic() < deadline and proc.poll() is None, "daphne did not start"
            time.sleep(0.2)
    yield {"port": port, "pid": proc.pid}
    proc.terminate()
    proc.wait(timeout=10)


def rss(pid: int, field: str = "VmRSS") -> int:
    """The process's resident memory now (``VmRSS``) or at its peak so far (``VmHWM``)."""
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field}")


def assert_not_grown(pid: int, before: int) -> None:
    # The peak too: memory taken while the body streamed and given back later still counts.
    for field in ("VmRSS", "VmHWM"):
        grown = rss(pid, field) - before
        assert grown < 16 * MiB, f"the worker's {field} grew by {grown / MiB:.0f} MiB"


def body_pieces(total: int):
    """``total`` bytes in 64 KiB pieces, never held at once."""
    sent = 0
    while sent < total:
        n = min(len(PIECE), total - sent)
        yield PIECE[:n]
        sent += n


def read_response(sock) -> tuple[int, dict]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    length = int([line.split(b":")[1] for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")][0])
    while len(rest) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        rest += chunk
    raw = rest[:length]
    return status, json.loads(raw) if raw.startswith(b"{") else raw


def stream(port: int, method: str, path: str, total: int, *, chunked: bool = False,
           headers: dict | None = None) -> tuple[int, dict, int]:
    """Send ``total`` body bytes from a generator, reading the answer as soon as it comes.
    Returns (status, JSON body, bytes sent before the server stopped taking them)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             "Content-Type: application/json"]
    lines.append("Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent, answer = 0, None
    sock.setblocking(False)
    try:
        for piece in body_pieces(total):
            frame = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
            view = memoryview(frame)
            while view:
                try:
                    view = view[sock.send(view):]
                except BlockingIOError:
                    time.sleep(0.001)
                    if answer is None:
                        answer = _try_answer(sock)
            sent += len(piece)
            if answer is None and sent % (8 * MiB) == 0:
                answer = _try_answer(sock)
    except (BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(30)
    if answer is None:
        answer = read_response(sock)
    sock.close()
    return answer[0], answer[1], sent


def _try_answer(sock):
    import select

    if not select.select([sock], [], [], 0)[0]:
        return None
    sock.settimeout(10)
    try:
        return read_response(sock)
    finally:
        sock.setblocking(False)


def test_a_700_mib_anonymous_post_is_refused_without_the_worker_growing(daphne):
    before = rss(daphne["pid"])
    status, body, sent = stream(daphne["port"], "POST", "/api/v1/time", 700 * MiB)
    assert status == 413, body
    assert body["error"]["code"] == "body_too_large" and body["error"]["temporary"] is False
    assert body["error"]["details"]["max_bytes"] == MiB
    assert_not_grown(daphne["pid"], before)


def test_a_chunked_body_is_refused_once_it_passes_the_limit(daphne):
    before = rss(daphne["pid"])
    status, body, sent = stream(daphne["port"], "POST", "/api/v1/time", 300 * MiB, chunked=True,
                                headers={"Authorization": "Bearer kbt_0_signed_in_or_not"})
    assert status == 413 and body["error"]["code"] == "body_too_large", body
    assert_not_grown(daphne["pid"], before)


def test_a_too_large_patch_is_refused_before_its_body_is_read(daphne):
    before = rss(daphne["pid"])
    sock = socket.create_connection(("127.0.0.1", daphne["port"]), timeout=10)
    sock.sendall(f"PATCH /api/v1/uploads/0b6c1a4e-3f0e-4a57-9d2b-5f1e8c7d6a90 HTTP/1.1\r\n"
                 f"Host: x\r\nAuthorization: Bearer kbt_1_x\r\nUpload-Offset: 0\r\n"
                 f"Content-Type: application/octet-stream\r\nContent-Length: {300 * MiB}\r\n\r\n"
                 .encode())
    # Not one byte of the body sent: the answer comes from the headers alone.
    status, body = read_response(sock)
    sock.close()
    assert status == 413 and body["error"]["code"] == "chunk_too_large", body
    assert body["error"]["details"]["max_bytes"] == 8 * MiB
    assert_not_grown(daphne["pid"], before)


def refused_count(port: int, code: str, edge: str) -> float:
    """``kaibiao_request_bodies_refused_total{code,edge}`` as the worker's /metrics reports it."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}/metrics",
                                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    text = urllib.request.urlopen(request, timeout=10).read().decode()
    for line in text.splitlines():
        if line.startswith("kaibiao_request_bodies_refused_total{") and f'code="{code}"' in line \
                and f'edge="{edge}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_refusals_at_the_edge_are_counted_in_the_metrics(daphne):
    port = daphne["port"]
    before = refused_count(port, "body_too_large", "daphne"), refused_count(port, "chunk_too_large", "daphne")
    assert stream(port, "POST", "/api/v1/time", 2 * MiB)[0] == 413
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(f"PATCH /api/v1/uploads/0b6c1a4e-3f0e-4a57-9d2b-5f1e8c7d6a90 HTTP/1.1\r\nHost: x\r\n"
                 f"Content-Type: application/octet-stream\r\nContent-Length: {300 * MiB}\r\n\r\n".encode())
    assert read_response(sock)[0] == 413
    sock.close()
    assert refused_count(port, "body_too_large", "daphne") == before[0] + 1
    assert refused_count(port, "chunk_too_large", "daphne") == before[1] + 1
    # A body within its limit is not counted.
    stream(port, "POST", "/api/v1/time", 1024)
    assert refused_count(port, "body_too_large", "daphne") == before[0] + 1


def test_a_body_within_its_limit_reaches_the_application(daphne):
    status, body, sent = stream(daphne["port"], "POST", "/api/v1/time", 64 * 1024)
    assert status == 405 and sent == 64 * 1024  # the application answered: GET only


async def _run(app, scope, chunks):
    sent, seen = [], []
    queue = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
             for i, c in enumerate(chunks)]

    async def receive():
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    async def inner(scope, receive, send):
        while True:
            message = await receive()
            seen.append(message)
            if message["type"] == "http.disconnect" or not message.get("more_body"):
                break
        if seen[-1]["type"] != "http.disconnect":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})

    await app(inner)(scope, receive, send)
    return sent, seen


async def test_the_asgi_wrapper_refuses_by_length_and_by_count(settings):
    from common import metrics
    from config.bodylimit import BodyLimit

    counted = metrics.BODIES_REFUSED.labels("body_too_large", "asgi")
    before = counted._value.get()

    settings.JSON_BODY_MAX_BYTES = 1000
    scope = {"type": "http", "method": "POST", "path": "/api/v1/time",
             "headers": [(b"content-length", b"5000")]}
    sent, seen = await _run(BodyLimit, scope, [b"x" * 5000])
    assert sent[0]["status"] == 413 and not seen  # the application never ran
    assert json.loads(sent[1]["body"])["error"]["code"] == "body_too_large"
    scope["headers"] = []  # no length: counted as it arrives
    sent, seen = await _run(BodyLimit, scope, [b"x" * 600, b"x" * 600, b"x" * 600])
    assert sent[0]["status"] == 413 and len(sent) == 2
    assert seen[-1]["type"] == "http.disconnect" and len(seen) == 2
    sent, seen = await _run(BodyLimit, scope, [b"x" * 500, b"x" * 500])
    assert sent[0]["status"] == 200
    assert counted._value.get() == before + 2  # the two refusals, not the body within the limit
