"""Shared plumbing of the benchmarks: a private database, Daphne, uvicorn and Redis processes on free
ports, signed-in session cookies, CPU time and load readings. Everything started here is stopped here.

The real-time benches use PostgreSQL (as production does) at ``BENCH_RT_DATABASE_URL`` (default
postgres://postgres@127.0.0.1:5432/kaibiao_rtbench, dropped and created here) when it is reachable,
else a temporary SQLite file; the figures name the database they ran on."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RESULTS = ROOT / "bench" / "results"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 30) -> None:
    end = time.time() + timeout
    while time.time() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


RT_DB_URL = os.environ.get("BENCH_RT_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kaibiao_rtbench")


def postgres_database() -> str:
    """A fresh PostgreSQL database for the real-time benches, or "" when PostgreSQL is not there."""
    name = RT_DB_URL.rsplit("/", 1)[1]
    admin = RT_DB_URL.rsplit("/", 1)[0] + "/postgres"
    if shutil.which("psql") is None:
        return ""
    for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
        done = subprocess.run(["psql", admin, "-qc", sql], capture_output=True, text=True)
        if done.returncode != 0:
            return ""
    return RT_DB_URL


def server_kinds() -> list[str]:
    """The ASGI servers the benches measure: Daphne (the default), and uvicorn when installed."""
    import importlib.util

    return ["daphne"] + (["uvicorn"] if importlib.util.find_spec("uvicorn") else [])


def loadavg() -> list[float]:
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


class Stack:
    """A private database (migrated once), users with sessions, servers on demand."""

    def __init__(self, users: int = 50, database_url: str = "", hosts: int = 1, postgres: bool = False):
        self.dir = Path(tempfile.mkdtemp(prefix="kaibiao-bench-"))
        if not database_url and postgres:
            database_url = postgres_database()
        self.database = "postgresql" if database_url.startswith("postgres") else "sqlite"
        self.env = dict(os.environ, KAIBIAO_VAR_DIR=str(self.dir), DJANGO_SETTINGS_MODULE="config.settings",
                        DATABASE_URL=database_url or f"sqlite:///{self.dir / 'bench.sqlite3'}",
                        LOG_LEVEL="WARNING", RT_DEMO_ROOMS="1", PYTHONPATH=str(ROOT),
                        # the clients' Origin (bench.fanout.ORIGIN, tests.realtime_client)
                        WEBSOCKET_ALLOWED_ORIGINS="http://127.0.0.1")
        self.env.pop("REDIS_URL", None)
        self.procs: list[subprocess.Popen] = []
        subprocess.run([PY, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=self.env, check=True)
        out = subprocess.run([PY, "-m", "bench.make_sessions", str(users), str(hosts)], cwd=ROOT, env=self.env,
                             check=True, capture_output=True, text=True).stdout
        self.cookies = json.loads(out.strip().splitlines()[-1])

    def start_redis(self) -> str:
        port = free_port()
        self.procs.append(subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL))
        self.redis_proc = self.procs[-1]
        wait_port(port)
        return f"redis://127.0.0.1:{port}/0"

    def start_daphne(self, redis_url: str = "", **env) -> tuple[int, subprocess.Popen]:
        return self.start_server("daphne", redis_url, **env)

    def start_server(self, kind: str = "daphne", redis_url: str = "", app: str = "config.asgi:application",
                     unix_socket: bool = False, **env) -> tuple[int, subprocess.Popen]:
        """Daphne or uvicorn serving ``app`` on a free port, as docs/protocol.md §9 says to run them:
        a listen backlog of 1024 (Twisted's default of 50 turns a reconnect storm into SYN
        retries) and, for Daphne, 30 s to finish a handshake (its default of 5 s drops handshakes
        still queued in a storm, and their retries redo the work). ``unix_socket``: Daphne also
        listens on ``socket_of(port)``, as the production workers do behind nginx (deploy/Procfile)."""
        port = free_port()
        e = dict(self.env, **{k: str(v) for k, v in env.items()})
        if redis_url:
            e["REDIS_URL"] = redis_url
        if kind == "daphne":
            unix = ["-e", f"unix:{self.socket_of(port)}:backlog=1024"] if unix_socket else []
            cmd = [PY, "-m", "daphne", "-e", f"tcp:port={port}:interface=127.0.0.1:backlog=1024", *unix,
                   "--websocket_connect_timeout", "30", app]
        elif kind == "uvicorn":
            cmd = [PY, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port), "--backlog", "1024",
                   "--no-access-log", "--log-level", "warning", "--ws", "websockets-sansio", app]
        else:
            raise ValueError(kind)
        proc = subprocess.Popen(cmd, cwd=ROOT, env=e, stdout=subprocess.DEVNULL,
                                stderr=open(self.dir / f"{kind}-{port}.log", "w"))
        self.procs.append(proc)
        wait_port(port)
        return port, proc

    def socket_of(self, port: int) -> Path:
        return self.dir / f"daphne-{port}.sock"

    def start_floor(self) -> int:
        port = free_port()
        self.procs.append(subprocess.Popen([PY, "-m", "bench.floor_server", str(port)], cwd=ROOT, env=self.env,
                                           stderr=subprocess.DEVNULL))
        wait_port(port)
        return port

    def stop(self, proc: subprocess.Popen) -> None:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        for proc in reversed(self.procs):
            self.stop(proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc (clock ticks)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, round(p / 100 * (len(values) - 1))))
    return values[k]


def save(name: str, data: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False))
    return path


class BackendCpu:
    """CPU seconds spent by the PostgreSQL backends serving one database, while ``with`` lasts.

    The server is shared, so its own CPU counters would count everyone's work: this reads
    /proc/<pid>/stat of every backend whose title names ``database`` (``postgres: user db host
    state``), every ``interval`` seconds, and sums each one's growth since it was first seen. A
    backend that exits between two readings loses its last ``interval`` of CPU: a slight
    undercount, alike for the runs it compares."""

    def __init__(self, database: str, interval: float = 0.02) -> None:
        self.database, self.interval = database, interval
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._stop = None
        self._thread = None

    def _backends(self) -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    title = Path(f"/proc/{entry}/cmdline").read_bytes()
                except OSError:
                    continue
                if title.startswith(b"postgres: ") and f" {self.database} ".encode() in title:
                    pids.append(int(entry))
        return pids

    def _sample(self) -> None:
        for pid in self._backends():
            try:
                cpu = cpu_seconds(pid)
            except OSError:
                continue
            self._first.setdefault(pid, cpu)  # a backend first seen mid-run: count from here
            self._last[pid] = cpu

    def __enter__(self) -> "BackendCpu":
        import threading

        self._sample()
        self._stop = threading.Event()

        def loop() -> None:
            while not self._stop.wait(self.interval):
                self._sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def seconds(self) -> float:
        return sum(self._last[pid] - self._first[pid] for pid in self._last)
