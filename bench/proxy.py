"""Bench: what the TLS proxy costs. The one-hall fan-out (bench/fanout.py (a): one host posts, N
bidders receive; the latency of an event is from the host's send to the last bidder's receipt)
with the same two Daphne workers sharing Redis, measured directly (clients spread over the two
workers' ports, plain ``ws://``) and through nginx (``wss://`` to the proxy rendered by
``manage.py nginx_config``, ``least_conn`` over the two workers' unix sockets as in production —
``BENCH_PROXY_UPSTREAM=tcp`` for their TCP ports), alternately for each N in the
same run, so both share the machine's conditions, three times each (a single p99 of 20 events moves
by tens of ms with the machine's noise). Saves ``bench/results/proxy.json`` with, per N, the median
p99 through the proxy over the median p99 direct, and the CPU the clients, the workers and nginx
spent. Goal: the proxy costs at most 20 % of p99 (ratio <= 1.2).

Then the reconnect storm (bench/fanout_storm.py, 3,000 clients, two workers) direct and through
nginx, in the same run (goal: all caught up within 10 s, zero gaps, as direct).

Run: ``nice -n 10 python -m bench.proxy`` (``BENCH_PROXY_SIZES=500,1000``, ``BENCH_PROXY_EVENTS``, ``BENCH_PROXY_STORM``,
``BENCH_PROXY_REPEATS``). Needs nginx, redis-server and openssl; PostgreSQL when reachable.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time

from .common import PY, ROOT, Stack, cpu_seconds, free_port, loadavg, save, wait_port
from .fanout import SERVER_ENV, measure
from .fanout_storm import storm


def _tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if path is None:
        sys.exit(f"bench.proxy: {name} not found (Debian: apt-get install {name})")
    return path


def upstreams_of(stack: Stack, ports: list[int]) -> list[str]:
    """The workers as nginx reaches them: by their unix sockets, as in production (deploy/Procfile;
    the workers were started with ``unix_socket=True``), or by their TCP ports with
    ``BENCH_PROXY_UPSTREAM=tcp``."""
    if os.environ.get("BENCH_PROXY_UPSTREAM", "unix") == "tcp":
        return [f"127.0.0.1:{p}" for p in ports]
    for p in ports:
        for _ in range(100):
            if stack.socket_of(p).exists():
                break
            time.sleep(0.05)
    return [f"unix:{stack.socket_of(p)}" for p in ports]


def start_proxy(stack: Stack, ports: list[int]) -> int:
    """nginx as the current user in a private prefix, TLS with a self-signed certificate, in
    front of the workers on ``ports``; returns its HTTPS port."""
    nginx, openssl = _tool("nginx"), _tool("openssl")
    port = free_port()
    prefix = stack.dir / f"nginx-{port}"
    prefix.mkdir()
    cert, key = prefix / "tls.crt", prefix / "tls.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    upstreams = [a for u in upstreams_of(stack, ports) for a in ("--upstream", u)]
    subprocess.run([PY, "manage.py", "nginx_config", "--listen", f"127.0.0.1:{port}", *upstreams,
                    "--cert", str(cert), "--key", str(key), "--prefix", str(prefix),
                    "--out", str(prefix / "nginx.conf")], cwd=ROOT, env=stack.env, check=True, capture_output=True)
    stack.procs.append(subprocess.Popen([nginx, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", "stderr",
                                         "-g", "daemon off;"], stderr=open(prefix / "stderr.log", "w")))
    wait_port(port)
    # The clients (subprocesses) and the host (this process) verify the proxy's certificate.
    os.environ["SSL_CERT_FILE"] = str(cert)
    return port


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (nginx's master and its workers)."""
    try:
        children = open(f"/proc/{pid}/task/{pid}/children").read().split()
    except OSError:
        children = []
    return cpu_seconds(pid) + sum(_tree_cpu(int(c)) for c in children)


def run() -> dict:
    sizes = [int(n) for n in os.environ.get("BENCH_PROXY_SIZES", "500,1000,2000").split(",")]
    events = int(os.environ.get("BENCH_PROXY_EVENTS", "20"))
    repeats = int(os.environ.get("BENCH_PROXY_REPEATS", "3"))
    storm_clients = int(os.environ.get("BENCH_PROXY_STORM", "3000"))
    stack = Stack(users=max(sizes + [storm_clients]), postgres=True)
    try:
        redis_url = stack.start_redis()
        workers = [stack.start_server("daphne", redis_url, unix_socket=True, **SERVER_ENV) for _ in range(2)]
        ports = [port for port, _ in workers]
        proxy = start_proxy(stack, ports)
        server_procs = [proc for _, proc in workers] + [stack.procs[-1]]  # the workers, then nginx
        direct = [f"ws://127.0.0.1:{p}/ws/v1/" for p in ports]
        proxied = f"wss://127.0.0.1:{proxy}/ws/v1/"
        print(f"proxy bench: one hall, 2 Daphne workers + Redis ({stack.database}), direct vs nginx (TLS)",
              flush=True)
        rows = []
        for n in sizes:
            spacing = 0.4 + n / 2500
            for r in range(repeats):
                row = {"clients": n, "repeat": r}
                for name, url in (("direct", direct), ("proxy", proxied)):
                    before = [_tree_cpu(p.pid) for p in server_procs]
                    row[name] = measure(url, stack.cookies, n, [f"demo:proxy-{name}-{n}-{r}"], events, spacing)
                    spent = [round(_tree_cpu(p.pid) - b, 2) for p, b in zip(server_procs, before)]
                    row[name]["workers_cpu_s"], row[name]["nginx_cpu_s"] = round(sum(spent[:-1]), 2), spent[-1]
                row["p99_ratio"] = round(row["proxy"]["p99_ms"] / max(row["direct"]["p99_ms"], 0.1), 2)
                row["p50_ratio"] = round(row["proxy"]["p50_ms"] / max(row["direct"]["p50_ms"], 0.1), 2)
                rows.append(row)
                d, p = row["direct"], row["proxy"]
                print(f"  N={n:5d} direct p50 {d['p50_ms']:6.1f} p99 {d['p99_ms']:6.1f} ms | nginx p50 "
                      f"{p['p50_ms']:6.1f} p99 {p['p99_ms']:6.1f} ms | p99 x{row['p99_ratio']} | lost "
                      f"{d['lost']}/{p['lost']} gaps {d['gaps_or_reorders']}/{p['gaps_or_reorders']} | CPU s "
                      f"clients {d['clients_cpu_s']}/{p['clients_cpu_s']} workers {d['workers_cpu_s']}/"
                      f"{p['workers_cpu_s']} nginx {p['nginx_cpu_s']} "
                      f"| load {d['load_before'][0]:.2f}", flush=True)
        for _, proc in workers:  # the storm starts its own workers
            stack.stop(proc)
        # The reconnect storm (bench/fanout_storm.py) with two workers, direct (each client back to
        # its worker) and through nginx (least_conn picks), one after the other in the same run.
        storms = []
        if storm_clients:
            storms.append(storm(stack, "daphne", n=storm_clients, auth="realtime", workers=2))
            storms.append(storm(stack, "daphne", n=storm_clients, auth="realtime", workers=2,
                                via=lambda ports: f"wss://127.0.0.1:{start_proxy(stack, ports)}/ws/v1/"))
        # One p99 of 20 events moves by tens of ms with the machine's noise: per N, the median p99
        # of the repeats through the proxy against the median p99 of the direct repeats.
        medians = []
        for n in sizes:
            mine = [r for r in rows if r["clients"] == n]
            d = statistics.median(r["direct"]["p99_ms"] for r in mine)
            p = statistics.median(r["proxy"]["p99_ms"] for r in mine)
            medians.append({"clients": n, "repeats": len(mine), "direct_median_p99_ms": d,
                            "proxy_median_p99_ms": p, "p99_ratio": round(p / max(d, 0.1), 2)})
            print(f"  N={n:5d} median p99 of {len(mine)}: direct {d:6.1f} ms, nginx {p:6.1f} ms: "
                  f"x{medians[-1]['p99_ratio']}", flush=True)
        worst = max(m["p99_ratio"] for m in medians)
        storms_met = all(s["goal_met"] for s in storms)
        result = {"goal": "proxy p99 <= 1.2 x direct p99 (the proxy costs <= 20 % of p99); "
                          "the storm through the proxy: all caught up within 10 s, zero gaps",
                  "goal_met": worst <= 1.2 and storms_met, "storm_goal_met": storms_met,
                  "medians": medians, "storms": storms, "worst_p99_ratio": worst, "database": stack.database,
                  "workers": 2, "events_per_size": events, "cores": os.cpu_count(),
                  "nice": os.nice(0), "load_after": loadavg(), "rows": rows}
        save("proxy", result)
        print(f"  worst p99 ratio x{worst} (goal <= 1.2: {'met' if worst <= 1.2 else 'NOT met'})", flush=True)
        if len(storms) == 2:
            d, p = storms
            print(f"  storm of {storm_clients}: direct all rejoined in {d['all_rejoined_s']} s, through nginx "
                  f"{p['all_rejoined_s']} s (gaps {d['gaps']}/{p['gaps']}; goal <= 10 s, no gaps: "
                  f"{'met' if storms_met else 'NOT met'})", flush=True)
        return result
    finally:
        stack.close()


if __name__ == "__main__":
    run()
