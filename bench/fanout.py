"""Bench (a) one hall with N bidders, and (b) 50 halls x 60 bidders: time for one event to reach
every client (the last arrival), p50/p99 over the events, next to a plain ``websockets`` broadcast
server measured in the same run (the floor). Lost or reordered deliveries are counted.

Each event is posted by a host through the full path (command, database write with its audit entry,
commit, doorbell, hub, sockets); the latency runs from the host sending the command to the last
client receiving the push. Servers: Daphne (the default) and uvicorn when it is installed.
(a) alternates floor and servers for each N, so they share the machine's conditions; the load
average is recorded with every figure (other work on this 2-core machine makes runs noisy).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time

from websockets.asyncio.client import connect

from .common import PY, ROOT, Stack, cpu_seconds, loadavg, percentile, save, server_kinds

ORIGIN = "http://127.0.0.1"
# As production runs (config/settings.py, KAIBIAO_ENV=production): own ORM threads, GC tuning,
# batched audit sequencing on PostgreSQL (docs/audit.md; SQLite always sequences immediately).
SERVER_ENV = {"RT_DB_THREADS": 4, "RT_GC_TUNING": 1, "RT_CLIENT_IDLE_SECONDS": 3600,
              "AUDIT_SEQUENCING": "batched"}


def start_clients(url, cookies: list[str], n: int, rooms: list[str], procs: int = 2, **extra):
    out = []
    per = (n + procs - 1) // procs
    for p in range(procs):
        count = min(per, n - p * per)
        if count <= 0:
            break
        cfg = {"origin": ORIGIN, "cookies": cookies, "n": count, "rooms": rooms, "start": p * per, **extra}
        cfg["urls" if isinstance(url, list) else "url"] = url
        out.append(subprocess.Popen([PY, "-m", "bench.ws_clients", json.dumps(cfg)], cwd=ROOT,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for proc in out:
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"client process failed: {line!r}")
    return out


def drop_clients(procs) -> float:
    """Every client aborts its connection and resumes at once; returns the drop time."""
    for proc in procs:
        proc.stdin.write("DROP\n")
        proc.stdin.flush()
    times = [float(proc.stdout.readline().split()[1]) for proc in procs]
    return min(times)


def stop_clients(procs) -> dict:
    merged = {"last": {}, "count": {}, "gaps": 0, "repeats": 0, "resyncs": 0, "errors": 0, "joined": 0,
              "deliveries": 0, "rejoined": [], "rejoin_modes": {}, "replayed": 0, "final": [], "retries": 0,
              "retry_reasons": {}, "tls_resumed": 0, "tls_full": 0}
    for proc in procs:
        proc.stdin.write("STOP\n")
        proc.stdin.flush()
        data = json.loads(proc.stdout.readline())
        proc.wait(30)
        for key, t in data["last"].items():
            merged["last"][key] = max(t, merged["last"].get(key, 0))
        for key, c in data["count"].items():
            merged["count"][key] = merged["count"].get(key, 0) + c
        for k in ("gaps", "repeats", "resyncs", "errors", "joined", "deliveries", "replayed", "retries"):
            merged[k] += data[k]
        for k in ("tls_resumed", "tls_full"):
            merged[k] += data.get(k, 0)
        merged["rejoined"] += data["rejoined"]
        for why, c in data["retry_reasons"].items():
            merged["retry_reasons"][why] = merged["retry_reasons"].get(why, 0) + c
        for mode, c in data["rejoin_modes"].items():
            merged["rejoin_modes"][mode] = merged["rejoin_modes"].get(mode, 0) + c
        merged["final"] += list(data["final"].values())
    return merged


async def host_session(url: str, cookie: str, rooms: list[str]):
    """A host's socket, joined to ``rooms``; returns (socket, {room: last seq of ``all``})."""
    headers = {"Cookie": "sessionid=" + cookie} if cookie else {}
    ws = await connect(url, origin=ORIGIN, additional_headers=headers, compression=None,
                       ping_interval=None, max_size=2**24)
    await ws.recv()
    seqs = {}
    for room in rooms:
        await ws.send(json.dumps({"v": 1, "id": "j" + room, "cmd": "room.join", "room": room, "payload": {}}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("id") == "j" + room:
                seqs[room] = frame["payload"]["positions"].get("all", 0)
                break
    return ws, seqs


async def _drain(ws, errors: list) -> None:
    """Read the host's socket (replies, its own pushes) so the server never sees it as slow."""
    try:
        async for message in ws:
            frame = json.loads(message)
            if frame.get("ok") is False:
                errors.append(frame["error"]["code"])
    except Exception:  # noqa: BLE001
        pass


async def post_events(url: str | list[str], cookies, rooms: list[str], events: int, spacing: float,
                      stagger: bool = False) -> tuple[dict, list]:
    """Post ``events`` rounds, one event per room per round, ``spacing`` seconds apart; each room has
    its own host when ``cookies`` is a list. ``stagger``: each room posts at its own random phase
    within the round (independent halls), else every room posts at the same instant (a burst).
    Returns the send time of every (room, seq) and the error codes of refused commands."""
    hosts = cookies if isinstance(cookies, list) else [cookies]
    urls = url if isinstance(url, list) else [url]  # several workers: hosts spread over them
    groups = [[r for i, r in enumerate(rooms) if i % len(hosts) == h] for h in range(len(hosts))]
    sessions = [await host_session(urls[h % len(urls)], hosts[h], groups[h])
                for h in range(len(hosts)) if groups[h]]
    sent, errors = {}, []
    readers = [asyncio.create_task(_drain(ws, errors)) for ws, _ in sessions]
    start = time.time() + 0.2

    async def hall(ws, seqs, room: str, phase: float) -> None:
        for i in range(events):
            delay = start + i * spacing + phase - time.time()
            if delay > 0:
                await asyncio.sleep(delay)
            seqs[room] += 1
            sent[f"{room}|{seqs[room]}"] = time.time()
            await ws.send(json.dumps({"v": 1, "id": f"p{i}|{room}", "cmd": "demo.post", "room": room,
                                      "payload": {"text": f"报价公布 {i} " + "x" * 200}}))

    rng = random.Random(7)
    await asyncio.gather(*(hall(ws, seqs, room, rng.uniform(0, spacing) if stagger else 0.0)
                           for ws, seqs in sessions for room in seqs))
    await asyncio.sleep(min(3.0, spacing * 2) + 1.0)
    for ws, _ in sessions:
        await ws.close()
    for task in readers:
        task.cancel()
    return sent, errors


def measure(url: str | list[str], cookies: dict, n: int, rooms: list[str], events: int, spacing: float,
            stagger: bool = False, keep_latencies: bool = False) -> dict:
    clients = start_clients(url, cookies.get("bidders", []), n, rooms)
    load_before = loadavg()
    cpu_before = sum(cpu_seconds(c.pid) for c in clients)
    try:
        host_cookies = cookies.get("hosts") if len(rooms) > 1 else cookies.get("host", "")
        sent, errors = asyncio.run(post_events(url, host_cookies or "", rooms, events, spacing, stagger))
        # The load generator's own CPU while the events went out: on this machine the clients share
        # the cores with the servers, so a client-side cost (TLS, for one) shows in the latencies.
        clients_cpu = sum(cpu_seconds(c.pid) for c in clients) - cpu_before
    finally:
        result = stop_clients(clients)
    lat, lost = [], 0
    for key, t0 in sent.items():
        room = key.split("|")[0]
        i = rooms.index(room)
        expected = n // len(rooms) + (1 if i < n % len(rooms) else 0)
        lost += max(0, expected - result["count"].get(key, 0))
        if key in result["last"]:
            lat.append((result["last"][key] - t0) * 1000)
    return {"clients": n, "rooms": len(rooms), "events": len(sent), "p50_ms": round(percentile(lat, 50), 1),
            "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat) if lat else float("nan"), 1),
            "lost": lost, "gaps_or_reorders": result["gaps"] + result["repeats"],
            "resyncs": result["resyncs"], "client_errors": result["errors"], "refused_commands": len(errors),
            "clients_cpu_s": round(clients_cpu, 2), "load_before": load_before, "load_after": loadavg(),
            **({"latencies_ms": [round(x, 2) for x in lat]} if keep_latencies else {})}


def one_hall(stack: Stack, sizes=(500, 1000, 3000), events: int = 25, servers=None) -> dict:
    servers = servers or server_kinds()
    rows = []
    for n in sizes:
        spacing = 0.4 + n / 2500
        row = {"clients": n}
        floor_port = stack.start_floor()
        row["floor"] = measure(f"ws://127.0.0.1:{floor_port}/", {}, n, [f"demo:floor{n}"], events, spacing)
        stack.stop(stack.procs[-1])
        for kind in servers:
            port, proc = stack.start_server(kind, **SERVER_ENV)
            row[kind] = measure(f"ws://127.0.0.1:{port}/ws/v1/", stack.cookies, n, [f"demo:{kind}{n}"],
                                events, spacing)
            stack.stop(proc)
            row[f"{kind}_p99_ratio"] = round(row[kind]["p99_ms"] / max(row["floor"]["p99_ms"], 0.1), 2)
            row[f"{kind}_p50_ratio"] = round(row[kind]["p50_ms"] / max(row["floor"]["p50_ms"], 0.1), 2)
        rows.append(row)
        f = row["floor"]
        text = " | ".join(f"{k} p50 {row[k]['p50_ms']:6.1f} p99 {row[k]['p99_ms']:6.1f} ms "
                          f"(x{row[f'{k}_p99_ratio']}) lost {row[k]['lost']} gaps {row[k]['gaps_or_reorders']}"
                          for k in servers)
        print(f"  N={n:5d} floor p50 {f['p50_ms']:6.1f} p99 {f['p99_ms']:6.1f} ms | {text} "
              f"| load {f['load_before'][0]:.2f}", flush=True)
    return {"goal": "p99 <= 3x floor at N=3000, no lost or reordered events", "database": stack.database,
            "servers": servers, "events_per_size": events, "rows": rows}


def many_halls(stack: Stack, halls: int = 50, per_hall: int = 60, events: int = 20, servers=None) -> dict:
    """50 halls each with its own host and 60 bidders, in one worker. ``staggered``: every hall
    posts once per 1.5 s at its own phase (33 events/s in all: independent halls); ``burst``: all 50
    halls post in the same instant (a worst case). The floor server is measured the same way first.
    Then a burst on two workers sharing Redis, as production runs on this machine."""
    servers = servers or server_kinds()
    out = {"goal": "p99 <= 250 ms", "database": stack.database, "halls": halls, "per_hall": per_hall}
    rooms = [f"demo:multi{i}" for i in range(halls)]
    # The floor: the plain ``websockets`` server broadcasting per room, for the same clients and
    # posts — what this machine (server, clients and all on two cores) does with no platform at all.
    for mode in ("staggered", "burst"):
        floor_port = stack.start_floor()
        try:
            r = measure(f"ws://127.0.0.1:{floor_port}/", {}, halls * per_hall,
                        [f"{room}floor{mode}" for room in rooms], events, 1.5, stagger=mode == "staggered")
        finally:
            stack.stop(stack.procs[-1])
        out[f"floor_{mode}"] = r
        print(f"  {halls} halls x {per_hall} (floor, {mode}): p50 {r['p50_ms']} p99 {r['p99_ms']} ms, "
              f"lost {r['lost']}, gaps {r['gaps_or_reorders']} | load {r['load_before'][0]:.2f}", flush=True)
    for kind in servers:
        for mode in ("staggered", "burst"):
            port, proc = stack.start_server(kind, **SERVER_ENV)
            try:
                r = measure(f"ws://127.0.0.1:{port}/ws/v1/", stack.cookies, halls * per_hall,
                            [f"{room}{kind}{mode}" for room in rooms], events, 1.5, stagger=mode == "staggered")
            finally:
                stack.stop(proc)
            out[f"{kind}_{mode}"] = r
            print(f"  {halls} halls x {per_hall} ({kind}, {mode}): p50 {r['p50_ms']} p99 {r['p99_ms']} ms, "
                  f"lost {r['lost']}, gaps {r['gaps_or_reorders']} | load {r['load_before'][0]:.2f}", flush=True)
    # As production runs on this machine (docs/operations.md: one worker per core, sharing Redis):
    # hosts and bidders spread over two Daphne workers, every hall posting in the same instant.
    redis_url = stack.start_redis()
    workers = [stack.start_server("daphne", redis_url, **SERVER_ENV) for _ in range(2)]
    try:
        urls = [f"ws://127.0.0.1:{port}/ws/v1/" for port, _ in workers]
        r = measure(urls, stack.cookies, halls * per_hall, [f"{room}2w" for room in rooms], events, 1.5)
    finally:
        for _, proc in workers:
            stack.stop(proc)
        stack.stop(stack.redis_proc)
    out["daphne_2workers_burst"] = r
    print(f"  {halls} halls x {per_hall} (daphne, 2 workers + Redis, burst): p50 {r['p50_ms']} p99 {r['p99_ms']} ms, "
          f"lost {r['lost']}, gaps {r['gaps_or_reorders']} | load {r['load_before'][0]:.2f}", flush=True)
    return out


def run() -> dict:
    stack = Stack(hosts=50, postgres=True)
    try:
        print(f"fan-out (a): one hall ({stack.database})", flush=True)
        a = one_hall(stack)
        save("fanout_one_hall", a)
        print(f"fan-out (b): 50 halls x 60 ({stack.database})", flush=True)
        b = many_halls(stack)
        save("fanout_many_halls", b)
        return {"one_hall": a, "many_halls": b}
    finally:
        stack.close()


if __name__ == "__main__":
    run()
