"""The platform's side of a resumable upload, without a browser (issue 22): the same PATCH bodies the
submit page sends, sent from Python over one keep-alive connection to Daphne, next to one POST of
the same bytes to a server that only reads them (``bench.upload_sink``). Each PATCH is timed in
two parts: sending its body (the server reads it as it arrives) and waiting for the answer after
the last byte (the server's work on it: handing the body to the application, the checks, the copy
to disk, the fsync, the offset's update).

Run: ``python -m bench.bench_upload_server`` (``BENCH_UPLOAD_MIB`` sets the size, 200 by default).
The machine is shared: the figures are ratios within one run, with the load average, and each run
also gives the CPU seconds the platform's process spent on it (``server_cpu_s``, from /proc: far
less moved by the load than the rates). ``BENCH_UPLOAD_COMPARE=/path/to/another/checkout`` starts a
second platform from that checkout's code (for example ``git worktree add --detach ../base main``)
and runs the same bodies against both, alternately, ``BENCH_UPLOAD_REPS`` times (3 by default):
a before/after in the same run.
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

from bench.bench_upload import _env
from bench.common import RESULTS, ROOT, free_port, wait_port

MiB = 2**20
SIZE = int(os.environ.get("BENCH_UPLOAD_MIB", "200")) * MiB
BODIES = [int(x) * MiB for x in os.environ.get("BENCH_UPLOAD_BODIES_MIB", "1,8").split(",")]
PIPELINED = os.environ.get("BENCH_UPLOAD_PIPELINED", "1") == "1"
COMPARE = os.environ.get("BENCH_UPLOAD_COMPARE", "")
REPS = int(os.environ.get("BENCH_UPLOAD_REPS", "3" if COMPARE else "1"))


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far (/proc/PID/stat, fields 14 and 15)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def _platform(var_dir: Path, checkout: Path):
    """Daphne on this checkout's code (``bench_upload``'s platform), or on another one's."""
    from bench.bench_upload import _start_platform

    if checkout == ROOT:
        return _start_platform(var_dir)
    env = _env(var_dir)
    env["PYTHONPATH"] = str(checkout)
    for args in (["migrate", "--noinput", "-v", "0"], ["load_demo"]):
        subprocess.run([sys.executable, "manage.py", *args], cwd=checkout, env=env, check=True,
                       capture_output=True, timeout=600)
    port = free_port()
    log = open(var_dir / "daphne.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                             "config.asgi:application"], cwd=checkout, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    wait_port(port, timeout=120)
    return proc, f"http://127.0.0.1:{port}", env


def _timed(proc, run, *args) -> dict:
    before = _cpu_seconds(proc.pid)
    result = run(*args)
    result["server_cpu_s"] = round(_cpu_seconds(proc.pid) - before, 2)
    return result


def main() -> dict:
    from tests.e2e.uploading import setup_bidder

    tmp = Path(tempfile.mkdtemp(prefix="bench-upload-server-"))
    sink_port = free_port()
    sink = subprocess.Popen([sys.executable, "-m", "bench.upload_sink", str(sink_port)], cwd=ROOT)
    checkouts = {"this": ROOT, **({"compare": Path(COMPARE).resolve()} if COMPARE else {})}
    platforms = {}
    try:
        wait_port(sink_port)
        for name, checkout in checkouts.items():
            (tmp / name).mkdir()
            proc, base, env = _platform(tmp / name / "var", checkout)
            who = setup_bidder(env, f"server{name}")
            api = Api(int(base.rsplit(":", 1)[1]), who["cookie"])
            platforms[name] = (proc, who, api, Api(api.port, who["cookie"]))
        data = os.urandom(SIZE)
        load_before = os.getloadavg()
        runs = []
        for rep in range(REPS):
            for body in BODIES:
                floor = _sink_floor(sink_port, data)
                order = list(platforms) if rep % 2 == 0 else list(platforms)[::-1]
                for name in order:
                    proc, who, api, api2 = platforms[name]
                    found = [_timed(proc, _run, api, who["lot"], data, body)]
                    if PIPELINED:
                        found.append(_timed(proc, _run_pipelined, [api, api2], who["lot"], data, body))
                    for run in found:
                        if COMPARE:
                            run["code"] = name
                        run["floor_mb_per_s"] = round(SIZE / floor / 1e6, 1)
                        run["ratio_to_floor"] = round(run["mb_per_s"] / run["floor_mb_per_s"], 2)
                        runs.append(run)
                        print(json.dumps(run), flush=True)
    finally:
        for proc, *_ in platforms.values():
            proc.terminate()
            proc.wait(timeout=20)
        sink.terminate()
        sink.wait(timeout=20)
        shutil.rmtree(tmp, ignore_errors=True)
    result = {"bench": "the same PATCH bodies as the browser sends, from Python, vs one POST to a sink",
              "size_mib": SIZE // MiB, "database": "sqlite (bench_upload's platform)",
              "load_before": [round(x, 2) for x in load_before],
              "load_after": [round(x, 2) for x in os.getloadavg()], "cores": os.cpu_count(), "runs": runs}
    if COMPARE:
        result["compare"] = {"this": _revision(ROOT), "compare": _revision(checkouts["compare"]),
                             "medians": _medians(runs)}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "upload_server.json").write_text(json.dumps(result, indent=2) + "\n")
    return result


def _revision(checkout: Path) -> str:
    res = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True)
    return res.stdout.strip() or str(checkout)


def _medians(runs: list[dict]) -> list[dict]:
    """Per code, body size and PATCHes in flight: the median rate, ratio and server CPU seconds."""
    groups: dict[tuple, list[dict]] = {}
    for run in runs:
        groups.setdefault((run["code"], run["body_mib"], run.get("in_flight", 1)), []).append(run)
    return [{"code": code, "body_mib": body, "in_flight": flight, "runs": len(group),
             **{k: round(statistics.median(r[k] for r in group), 2)
                for k in ("mb_per_s", "ratio_to_floor", "server_cpu_s")}}
            for (code, body, flight), group in sorted(groups.items())]


run = main

if __name__ == "__main__":
    main()
