"""Bench (c): a reconnect storm. 3,000 clients in one hall (one worker) abort their connections at
the same instant, as a network failure would, and reconnect at once, each joining with the positions
and epoch it holds. A host posts 2 events a second before, during and after the storm, so every
client misses events and resumes by replay while new ones keep arriving.

Figures: the time from the drop until every client has its join reply (which follows the replayed
events: the client is then current), p50 of those times, the join modes, and the check that every
client ends holding every event exactly once, in order (gaps, repeats, final positions; the clients
are asked to wait, 30 s at most, for the host's last event, so a late one shows as late); and the
CPU seconds the server processes spent from the drop until the last rejoin (per reconnect: a
figure that depends far less on the machine's load than the wall-clock ones).
Goal (issue 4): all caught up within 10 s, zero gaps.

    python -m bench.fanout_storm                      # every row, saved to results/fanout_storm.json
    python -m bench.fanout_storm daphne:2 uvicorn:1   # only these rows (server:workers), printed

Rows: "channels" auth is the handshake as config.asgi had it before (Channels' AuthMiddlewareStack,
bench/fanout_asgi.py); the others run config.asgi as deployed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import threading
import time

from .common import Stack, cpu_seconds, loadavg, percentile, save, server_kinds
from .fanout import drop_clients, host_session, start_clients, stop_clients

CLIENTS = 3000
DB_THREADS = int(os.environ.get("BENCH_RT_DB_THREADS", "4"))
RATE = 2  # events per second posted by the host (an opening announces one bid after another)


def _lines(proc, out: list) -> threading.Thread:
    t = threading.Thread(target=lambda: out.append(proc.stdout.readline()), daemon=True)
    t.start()
    return t


async def _host(url: str, cookie: str, room: str, stop: threading.Event, posted: list) -> None:
    ws, seqs = await host_session(url, cookie, [room])
    last = seqs[room]

    async def read():
        async for message in ws:
            frame = json.loads(message)
            if str(frame.get("id", "")).startswith("p") and frame.get("ok"):
                posted.append(frame["payload"]["seq"])

    reader = asyncio.create_task(read())
    i = 0
    while not stop.is_set():
        i += 1
        await ws.send(json.dumps({"v": 1, "id": f"p{i}", "cmd": "demo.post", "room": room,
                                  "payload": {"text": f"storm {i}"}}))
        await asyncio.sleep(1 / RATE)
    # Every post answered (the server may still be busy with the storm): the log's head is known.
    for _ in range(1200):
        if len(posted) >= i:
            break
        await asyncio.sleep(0.05)
    reader.cancel()
    await ws.close()
    posted.append(last)


def upto(clients, seq: int) -> list[tuple[int, float]]:
    """Wait (30 s at most) until every client holds ``seq``; per client process (count, time)."""
    for proc in clients:
        proc.stdin.write(f"UPTO {seq}\n")
        proc.stdin.flush()
    return [(int(w[1]), float(w[2])) for w in (proc.stdout.readline().split() for proc in clients)]


APPS = {"channels": "bench.fanout_asgi:application", "realtime": "config.asgi:application"}


def storm(stack: Stack, kind: str = "daphne", n: int = CLIENTS, timeout: float = 90,
          auth: str = "channels", workers: int = 1, via=None) -> dict:
    """``auth``: "realtime" is config.asgi as deployed (realtime.connection.SessionAuthMiddleware);
    "channels" authenticates the handshake with Channels' AuthMiddlewareStack (bench/fanout_asgi.py).
    ``workers`` > 1: that many server processes sharing a Redis this bench starts, the clients spread
    over them (each reconnects to the worker it had). ``via``: a function of the workers' ports
    returning the one URL every client uses instead (bench/proxy.py: nginx in front of them; a
    reconnecting client then lands on whichever worker the proxy picks)."""
    redis_url = stack.start_redis() if workers > 1 else ""
    servers = [stack.start_server(kind, redis_url, app=APPS[auth], unix_socket=via is not None and kind == "daphne",
                                  RT_DB_THREADS=DB_THREADS, RT_GC_TUNING=1, RT_CLIENT_IDLE_SECONDS=3600) for _ in range(workers)]
    urls = [f"ws://127.0.0.1:{port}/ws/v1/" for port, _ in servers]
    if via is not None:
        urls = [via([port for port, _ in servers])]
    url = urls[0]
    room = f"demo:storm-{kind}-{auth}-{workers}{'-proxied' if via else ''}"
    clients = start_clients(urls, stack.cookies["bidders"], n, [room], storm_concurrency=n)
    stop, posted = threading.Event(), []
    host = threading.Thread(target=lambda: asyncio.run(_host(url, stack.cookies["host"], room, stop, posted)))
    host.start()
    try:
        time.sleep(2)
        load_before = loadavg()
        cpu_before = sum(cpu_seconds(proc.pid) for _, proc in servers)
        clients_cpu_before = sum(cpu_seconds(c.pid) for c in clients)
        drop_at = drop_clients(clients)
        lines: list[str] = []
        readers = [_lines(c, lines) for c in clients]
        deadline = time.time() + timeout
        for t in readers:
            t.join(max(0.1, deadline - time.time()))
        storm_cpu = sum(cpu_seconds(proc.pid) for _, proc in servers) - cpu_before
        # The load generator shares the two cores: its own reconnect cost (TLS handshakes through a
        # proxy, for one) lengthens the storm as the servers' does.
        clients_cpu = sum(cpu_seconds(c.pid) for c in clients) - clients_cpu_before
        time.sleep(max(0.0, 3 - (time.time() - drop_at)))  # the host goes on posting a little
        stop.set()
        host.join(90)
        tail, tail_from = [], time.time()
        if not any(t.is_alive() for t in readers):  # else a reader still waits for a line
            tail = upto(clients, max(posted) if posted else 0)
    finally:
        stop.set()
        result = stop_clients(clients)
        for _, proc in servers:
            stack.stop(proc)
        if redis_url:
            stack.stop(stack.redis_proc)
    last = max(posted) if posted else 0
    after = sorted(t - drop_at for t in result["rejoined"])
    complete = sum(1 for held in result["final"] if held == last)
    out = {"server": kind, "workers": workers, "proxied": via is not None, "handshake_auth": auth, "clients": n, "database": stack.database, "events_per_second": RATE,
           "rejoined": len(after), "all_rejoined_s": round(after[-1], 2) if len(after) == n else None,
           "p50_rejoin_s": round(percentile(after, 50), 2), "p99_rejoin_s": round(percentile(after, 99), 2),
           "modes": result["rejoin_modes"], "replayed_events": result["replayed"],
           "gaps": result["gaps"], "repeats": result["repeats"], "resyncs": result["resyncs"],
           "client_errors": result["errors"], "handshake_retries": result["retries"],
           "retry_reasons": result["retry_reasons"], "last_seq": last, "clients_holding_every_event": complete,
           "last_event_everywhere_s": (round(max(t for _, t in tail) - tail_from, 2)
                                       if tail and sum(c for c, _ in tail) == n else None),
           "server_cpu_s": round(storm_cpu, 2), "server_cpu_ms_per_reconnect": round(storm_cpu * 1000 / n, 2),
           "clients_cpu_ms_per_reconnect": round(clients_cpu * 1000 / n, 2),
           # every handshake of the run, the initial joins included: a browser-like client resumes
           # on each reconnect (bench/ws_clients.py)
           "tls_handshakes": {"resumed": result["tls_resumed"], "full": result["tls_full"]},
           "load_before": load_before, "load_after": loadavg()}
    out["goal_met"] = bool(out["all_rejoined_s"] is not None and out["all_rejoined_s"] <= 10
                           and out["gaps"] == 0 and out["repeats"] == 0 and complete == n)
    print(f"  storm {kind} x{workers} ({auth} auth): {n} clients all rejoined in {out['all_rejoined_s']} s (p50 {out['p50_rejoin_s']} s), "
          f"modes {out['modes']}, gaps {out['gaps']}, repeats {out['repeats']}, complete {complete}/{n}, "
          f"last event everywhere {out['last_event_everywhere_s']} s after the host's last reply, "
          f"errors {out['client_errors']}, retries {out['handshake_retries']}, "
          f"server CPU {out['server_cpu_ms_per_reconnect']} ms/reconnect, clients' CPU "
          f"{out['clients_cpu_ms_per_reconnect']} ms/reconnect | load {load_before[0]:.2f}",
          flush=True)
    return out


def run(servers=None, only: list[str] | None = None) -> dict:
    """Every row (saved), or ``only`` these ``server:workers`` rows with the deployed auth (printed)."""
    stack = Stack(postgres=True)
    try:
        print(f"fan-out (c): reconnect storm ({stack.database})", flush=True)
        if only:
            rows = [storm(stack, kind, auth="realtime", workers=int(w))
                    for kind, _, w in (row.partition(":") for row in only)]
            return {"rows": rows}
        kinds = servers or server_kinds()
        rows = [storm(stack, "daphne", auth="channels"), storm(stack, "daphne", auth="realtime"),
                storm(stack, "daphne", auth="realtime", workers=2)]
        rows += [storm(stack, kind, auth="realtime", workers=w) for kind in kinds if kind != "daphne"
                 for w in (1, 2)]
        result = {"goal": "all caught up within 10 s, zero gaps", "rows": rows}
        save("fanout_storm", result)
        return result
    finally:
        stack.close()


if __name__ == "__main__":
    run(only=sys.argv[1:])
