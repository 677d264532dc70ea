"""The platform's side of a resumable upload, without a browser (issue 22): the same PATCH bodies the
submit page sends, sent from Python over one keep-alive connection to Daphne, next to one POST of
the same bytes to a server that only reads them (``bench.upload_sink``). Each PATCH is timed in
two parts: sending its body (the server reads it as it arrives) and waiting for the answer after
the last byte (the server's work on it: handing the body to the application, the checks, the copy
to disk, the fsync, the offset's update).

Run: ``python -m bench.bench_upload_server`` (``BENCH_UPLOAD_MIB`` sets the size, 200 by default).
The machine is shared: the figures are ratios within one run, with the load average.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import RESULTS, ROOT, free_port, wait_port

MiB = 2**20
SIZE = int(os.environ.get("BENCH_UPLOAD_MIB", "200")) * MiB
BODIES = [int(x) * MiB for x in os.environ.get("BENCH_UPLOAD_BODIES_MIB", "1,8").split(",")]
PIPELINED = os.environ.get("BENCH_UPLOAD_PIPELINED", "1") == "1"


class Api:
    """A bidder's session on the platform: the session cookie and a CSRF token of our own."""

    def __init__(self, base_port: int, cookie: str):
        self.port = base_port
        self.csrf = secrets.token_hex(16)  # an unmasked 32-character secret, as the cookie holds it
        self.cookie = f"sessionid={cookie}; csrftoken={self.csrf}"
        self.conn = http.client.HTTPConnection("127.0.0.1", base_port, timeout=300)

    def call(self, method: str, path: str, body=None, headers=None):
        hdrs = {"Cookie": self.cookie, "X-CSRFToken": self.csrf, **(headers or {})}
        if isinstance(body, dict):
            body = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        self.conn.request(method, path, body=body, headers=hdrs)
        res = self.conn.getresponse()
        data = res.read()
        return res.status, (json.loads(data) if data else None)

    def send_patch(self, upload_id: str, offset: int, body: bytes) -> None:
        """Send one PATCH without reading its answer (``answer`` reads it)."""
        c = self.conn
        c.putrequest("PATCH", f"/api/v1/uploads/{upload_id}")
        for k, v in {"Cookie": self.cookie, "X-CSRFToken": self.csrf, "Upload-Offset": str(offset),
                     "Content-Type": "application/offset+octet-stream", "Content-Length": str(len(body))}.items():
            c.putheader(k, v)
        c.endheaders()
        c.send(body)

    def answer(self) -> dict:
        res = self.conn.getresponse()
        data = json.loads(res.read())
        if res.status != 200:
            raise RuntimeError(f"PATCH answered {res.status}: {data}")
        return data

    def patch(self, upload_id: str, offset: int, body: bytes) -> tuple[float, float, dict]:
        """One PATCH: (seconds sending the body, seconds waiting for the answer, the answer)."""
        t0 = time.perf_counter()
        self.send_patch(upload_id, offset, body)
        t1 = time.perf_counter()
        data = self.answer()
        return t1 - t0, time.perf_counter() - t1, data


def _sink_floor(port: int, data: bytes) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    t0 = time.perf_counter()
    conn.request("POST", "/", body=data, headers={"Content-Length": str(len(data))})
    conn.getresponse().read()
    return time.perf_counter() - t0


def _run(api: Api, lot: int, data: bytes, body_bytes: int) -> dict:
    status, up = api.call("POST", f"/api/v1/lots/{lot}/uploads", {"size": len(data)})
    if status != 201:
        raise RuntimeError(f"start answered {status}: {up}")
    sends, waits = [], []
    t0 = time.perf_counter()
    offset = 0
    view = memoryview(data)
    while offset < len(data):
        s, w, reply = api.patch(up["id"], offset, view[offset:offset + body_bytes])
        sends.append(s)
        waits.append(w)
        offset = reply["offset"]
    seconds = time.perf_counter() - t0
    api.call("DELETE", f"/api/v1/uploads/{up['id']}")
    return {"body_mib": body_bytes // MiB, "patches": len(sends), "seconds": round(seconds, 2),
            "mb_per_s": round(len(data) / seconds / 1e6, 1),
            "send_s": round(sum(sends), 2), "server_wait_s": round(sum(waits), 2),
            "server_wait_per_patch_ms": {"p50": round(statistics.median(waits) * 1000, 1),
                                         "max": round(max(waits) * 1000, 1)},
            "load": round(os.getloadavg()[0], 2)}


def _run_pipelined(apis: list[Api], lot: int, data: bytes, body_bytes: int) -> dict:
    """Two PATCHes out at once, on two connections, as the browser sends them: the next body goes
    on the wire as soon as the one before is there, while the server writes that one."""
    status, up = apis[0].call("POST", f"/api/v1/lots/{lot}/uploads", {"size": len(data)})
    if status != 201:
        raise RuntimeError(f"start answered {status}: {up}")
    view = memoryview(data)
    starts = list(range(0, len(data), body_bytes))
    t0 = time.perf_counter()
    pending: list[Api] = []
    offset = 0
    for i, start in enumerate(starts):
        api = apis[i % 2]
        api.send_patch(up["id"], start, view[start:start + body_bytes])
        pending.append(api)
        if len(pending) == 2:
            offset = pending.pop(0).answer()["offset"]
    while pending:
        offset = pending.pop(0).answer()["offset"]
    seconds = time.perf_counter() - t0
    if offset != len(data):
        raise RuntimeError(f"the server holds {offset} of {len(data)} bytes")
    apis[0].call("DELETE", f"/api/v1/uploads/{up['id']}")
    return {"body_mib": body_bytes // MiB, "in_flight": 2, "patches": len(starts), "seconds": round(seconds, 2),
            "mb_per_s": round(len(data) / seconds / 1e6, 1), "load": round(os.getloadavg()[0], 2)}


def main() -> dict:
    from bench.bench_upload import _start_platform
    from tests.e2e.uploading import setup_bidder

    tmp = Path(tempfile.mkdtemp(prefix="bench-upload-server-"))
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.upload_sink", str(sink_port)], cwd=ROOT)
    proc = None
    try:
        wait_port(sink_port)
        proc, base, env = _start_platform(tmp / "var")
        who = setup_bidder(env, "server")
        api = Api(int(base.rsplit(":", 1)[1]), who["cookie"])
        data = os.urandom(SIZE)
        load_before = os.getloadavg()
        runs = []
        for body in BODIES:
            floor = _sink_floor(sink_port, data)
            run = _run(api, who["lot"], data, body)
            run["floor_mb_per_s"] = round(SIZE / floor / 1e6, 1)
            run["ratio_to_floor"] = round(run["mb_per_s"] / run["floor_mb_per_s"], 2)
            runs.append(run)
            print(json.dumps(run), flush=True)
            if PIPELINED:
                run = _run_pipelined([api, Api(api.port, who["cookie"])], who["lot"], data, body)
                run["floor_mb_per_s"] = round(SIZE / floor / 1e6, 1)
                run["ratio_to_floor"] = round(run["mb_per_s"] / run["floor_mb_per_s"], 2)
                runs.append(run)
                print(json.dumps(run), flush=True)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        sink.terminate()
        sink.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"bench": "the same PATCH bodies as the browser sends, from Python, vs one POST to a sink",
              "size_mib": SIZE // MiB, "database": "sqlite (bench_upload's platform)",
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count(), "runs": runs}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "upload_server.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


run = main

if __name__ == "__main__":
    main()
