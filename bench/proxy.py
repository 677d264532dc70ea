"""Bench: what the TLS proxy costs. The one-hall fan-out (bench/fanout.py (a): one host posts, N
bidders receive; the latency of an event is from the host's send to the last bidder's receipt)
with the same two Daphne workers sharing Redis, measured directly (clients spread over the two
workers' ports, plain ``ws://``) and through nginx (``wss://`` to the proxy rendered by
``manage.py nginx_config``, ``least_conn`` over the two workers' unix sockets as in production —
``BENCH_PROXY_UPSTREAM=tcp`` for their TCP ports), alternately for each N in the
same run, so both share the machine's conditions, three times each. The p99 of one run of 20
events is its largest latency, which one stall of this shared machine decides; so each run sends
``BENCH_PROXY_EVENTS`` (40) events and the p99 compared is that of every latency of the repeats
pooled (120 per N and path). Saves ``bench/results/proxy.json`` with, per N, the pooled p99 through
the proxy over the pooled p99 direct (and the median of the runs' p99s, as before), and the CPU the
clients, the workers and nginx spent. Goal: the proxy costs at most 20 % of p99 (ratio <= 1.2).

``BENCH_PROXY_VARIANTS`` adds proxies to compare in the same run, each its own nginx in front of
the same workers: ``nginx`` (the production configuration, always measured) and ``nginxN`` for
``--worker-processes N``.

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

from .common import PY, ROOT, Stack, cpu_seconds, free_port, loadavg, percentile, save, wait_port
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


def start_proxy(stack: Stack, ports: list[int], worker_processes: str = "auto") -> int:
    """nginx as the current user in a private prefix, TLS with a self-signed certificate, in
    front of the workers on ``ports``; returns its HTTPS port."""
    nginx, openssl = _tool("nginx"), _tool("openssl")
    port = free_port()
    prefix = stack.dir / f"nginx-{port}"
    prefix.mkdir()
    # One certificate for every proxy of the run: the clients trust that one file.
    cert, key = stack.dir / "tls.crt", stack.dir / "tls.key"
    if not cert.exists():
        subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                        "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    upstreams = [a for u in upstreams_of(stack, ports) for a in ("--upstream", u)]
    subprocess.run([PY, "manage.py", "nginx_config", "--listen", f"127.0.0.1:{port}", *upstreams,
                    "--cert", str(cert), "--key", str(key), "--prefix", str(prefix),
                    "--worker-processes", worker_processes,
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


def _variant_workers(name: str) -> str:
    if name == "nginx":
        return "auto"
    if name.startswith("nginx") and name[5:].isdigit():
        return name[5:]
    sys.exit(f"bench.proxy: unknown variant {name!r} (nginx, nginxN)")


def run() -> dict:
    sizes = [int(n) for n in os.environ.get("BENCH_PROXY_SIZES", "500,1000,2000").split(",")]
    events = int(os.environ.get("BENCH_PROXY_EVENTS", "40"))
    repeats = int(os.environ.get("BENCH_PROXY_REPEATS", "3"))
    storm_clients = int(os.environ.get("BENCH_PROXY_STORM", "3000"))
    variants = ["nginx"] + [v for v in os.environ.get("BENCH_PROXY_VARIANTS", "").split(",") if v and v != "nginx"]
    stack = Stack(users=max(sizes + [storm_clients]), postgres=True)
    try:
        redis_url = stack.start_redis()
        workers = [stack.start_server("daphne", redis_url, unix_socket=True, **SERVER_ENV) for _ in range(2)]
        ports = [port for port, _ in workers]
        paths = {"direct": ([f"ws://127.0.0.1:{p}/ws/v1/" for p in ports], None)}
        for v in variants:
            port = start_proxy(stack, ports, _variant_workers(v))
            paths[v] = (f"wss://127.0.0.1:{port}/ws/v1/", stack.procs[-1])
        print(f"proxy bench: one hall, 2 Daphne workers + Redis ({stack.database}), direct vs nginx (TLS)"
              f" {', '.join(variants)}; {events} events per run", flush=True)
        rows, pooled = [], {}
        for n in sizes:
            spacing = 0.4 + n / 2500
            for r in range(repeats):
                row = {"clients": n, "repeat": r}
                for name, (url, nginx) in paths.items():
                    watched = [proc for _, proc in workers] + ([nginx] if nginx else [])
                    before = [_tree_cpu(p.pid) for p in watched]
                    m = measure(url, stack.cookies, n, [f"demo:proxy-{name}-{n}-{r}"], events, spacing,
                                keep_latencies=True)
                    pooled.setdefault((n, name), []).extend(m.pop("latencies_ms"))
                    spent = [round(_tree_cpu(p.pid) - b, 2) for p, b in zip(watched, before)]
                    m["workers_cpu_s"], m["nginx_cpu_s"] = round(sum(spent[:2]), 2), sum(spent[2:])
                    row[name] = m
                for v in variants:
                    row[f"{v}_p99_ratio"] = round(row[v]["p99_ms"] / max(row["direct"]["p99_ms"], 0.1), 2)
                rows.append(row)
                d = row["direct"]
                text = " | ".join(f"{v} p50 {row[v]['p50_ms']:6.1f} p99 {row[v]['p99_ms']:6.1f} ms x{row[f'{v}_p99_ratio']}"
                                  f" (nginx CPU {row[v]['nginx_cpu_s']:.2f} s, clients {row[v]['clients_cpu_s']})"
                                  for v in variants)
                print(f"  N={n:5d} direct p50 {d['p50_ms']:6.1f} p99 {d['p99_ms']:6.1f} ms (clients CPU "
                      f"{d['clients_cpu_s']} s, workers {d['workers_cpu_s']}) | {text} | lost "
                      f"{sum(row[k]['lost'] for k in paths)} gaps {sum(row[k]['gaps_or_reorders'] for k in paths)}"
                      f" | load {d['load_before'][0]:.2f}", flush=True)
        for _, proc in workers:  # the storm starts its own workers
            stack.stop(proc)
        # The reconnect storm (bench/fanout_storm.py) with two workers, direct (each client back to
        # its worker) and through nginx (least_conn picks), one after the other in the same run.
        storms = []
        if storm_clients:
            storms.append(storm(stack, "daphne", n=storm_clients, auth="realtime", workers=2))
            storms.append(storm(stack, "daphne", n=storm_clients, auth="realtime", workers=2,
                                via=lambda ports: f"wss://127.0.0.1:{start_proxy(stack, ports)}/ws/v1/"))
        # Per N: the p99 of every latency of the repeats pooled, through each proxy over direct;
        # and, as the earlier figures were taken, the median of the runs' own p99s.
        medians = []
        for n in sizes:
            mine = [r for r in rows if r["clients"] == n]
            direct_p99 = percentile(pooled[(n, "direct")], 99)
            entry = {"clients": n, "repeats": len(mine), "events": len(pooled[(n, "direct")]),
                     "direct_pooled_p99_ms": round(direct_p99, 1),
                     "direct_pooled_p50_ms": round(percentile(pooled[(n, "direct")], 50), 1),
                     "direct_median_p99_ms": statistics.median(r["direct"]["p99_ms"] for r in mine)}
            for v in variants:
                p99 = percentile(pooled[(n, v)], 99)
                entry[f"{v}_pooled_p99_ms"] = round(p99, 1)
                entry[f"{v}_pooled_p50_ms"] = round(percentile(pooled[(n, v)], 50), 1)
                entry[f"{v}_median_p99_ms"] = statistics.median(r[v]["p99_ms"] for r in mine)
                entry[f"{v}_p99_ratio"] = round(p99 / max(direct_p99, 0.1), 2)
                entry[f"{v}_median_p99_ratio"] = round(entry[f"{v}_median_p99_ms"] / max(entry["direct_median_p99_ms"], 0.1), 2)
            entry["p99_ratio"] = entry["nginx_p99_ratio"]
            medians.append(entry)
            print(f"  N={n:5d} pooled p99 of {entry['events']} events: direct {direct_p99:6.1f} ms, "
                  + ", ".join(f"{v} {entry[f'{v}_pooled_p99_ms']:6.1f} ms x{entry[f'{v}_p99_ratio']}"
                              f" (median of runs x{entry[f'{v}_median_p99_ratio']})" for v in variants), flush=True)
        worst = max(m["p99_ratio"] for m in medians)
        storms_met = all(s["goal_met"] for s in storms)
        result = {"goal": "proxy p99 <= 1.2 x direct p99 (the proxy costs <= 20 % of p99); "
                          "the storm through the proxy: all caught up within 10 s, zero gaps",
                  "goal_met": worst <= 1.2 and storms_met, "storm_goal_met": storms_met,
                  "medians": medians, "storms": storms, "worst_p99_ratio": worst, "database": stack.database,
                  "workers": 2, "events_per_run": events, "variants": variants, "cores": os.cpu_count(),
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
