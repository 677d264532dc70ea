"""Bench (a) one hall with N bidders, and (b) 50 halls x 60 bidders: time for one event to reach
every client (the last arrival), p50/p99 over the events, next to a plain ``websockets`` broadcast
server measured in the same run (the floor). Lost or reordered deliveries are counted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

from websockets.asyncio.client import connect

from .common import PY, ROOT, Stack, percentile, save

ORIGIN = "http://127.0.0.1"


def start_clients(url: str, cookies: list[str], n: int, rooms: list[str], procs: int = 2):
    out = []
    per = (n + procs - 1) // procs
    for p in range(procs):
        count = min(per, n - p * per)
        if count <= 0:
            break
        cfg = {"url": url, "origin": ORIGIN, "cookies": cookies, "n": count, "rooms": rooms, "start": p * per}
        out.append(subprocess.Popen([PY, "-m", "bench.ws_clients", json.dumps(cfg)], cwd=ROOT,
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    for proc in out:
        line = proc.stdout.readline()
        if not line.startswith("READY"):
            raise RuntimeError(f"client process failed: {line!r}")
    return out


def stop_clients(procs) -> dict:
    merged = {"last": {}, "count": {}, "gaps": 0, "resyncs": 0, "errors": 0, "joined": 0}
    for proc in procs:
        proc.stdin.write("STOP\n")
        proc.stdin.flush()
        data = json.loads(proc.stdout.readline())
        proc.wait(10)
        for key, t in data["last"].items():
            merged["last"][key] = max(t, merged["last"].get(key, 0))
        for key, c in data["count"].items():
            merged["count"][key] = merged["count"].get(key, 0) + c
        for k in ("gaps", "resyncs", "errors", "joined"):
            merged[k] += data[k]
    return merged


async def post_events(url: str, cookie: str, rooms: list[str], events: int, spacing: float) -> dict:
    """The host posts ``events`` rounds (one event per room per round); returns send times."""
    sent = {}
    headers = {"Cookie": "sessionid=" + cookie} if cookie else {}
    async with connect(url, origin=ORIGIN, additional_headers=headers, compression=None,
                       ping_interval=None) as ws:
        await ws.recv()
        for room in rooms:
            await ws.send(json.dumps({"v": 1, "id": "j" + room, "cmd": "room.join", "room": room, "payload": {}}))
        seqs = {room: 0 for room in rooms}
        joined = 0
        while joined < len(rooms):
            frame = json.loads(await ws.recv())
            if str(frame.get("id", "")).startswith("j"):
                joined += 1
                seqs[frame["id"][1:]] = frame["payload"]["positions"].get("all", 0)
        for i in range(events):
            t0 = time.time()
            for room in rooms:
                await ws.send(json.dumps({"v": 1, "id": f"p{i}|{room}", "cmd": "demo.post", "room": room,
                                          "payload": {"text": f"报价公布 {i} " + "x" * 200}}))
                seqs[room] += 1
                sent[f"{room}|{seqs[room]}"] = t0
            await asyncio.sleep(spacing)
    return sent


def measure(url: str, cookies: dict, n: int, rooms: list[str], events: int, spacing: float) -> dict:
    clients = start_clients(url, cookies.get("bidders", []), n, rooms)
    try:
        sent = asyncio.run(post_events(url, cookies.get("host", ""), rooms, events, spacing))
        time.sleep(min(3.0, spacing * 3))
    finally:
        result = stop_clients(clients)
    per_room = n // len(rooms)
    lat, lost = [], 0
    for key, t0 in sent.items():
        room = key.split("|")[0]
        expected = per_room + (1 if rooms.index(room) < n % len(rooms) else 0)
        got = result["count"].get(key, 0)
        lost += max(0, expected - got)
        if key in result["last"]:
            lat.append((result["last"][key] - t0) * 1000)
    return {"clients": n, "rooms": len(rooms), "events": len(sent), "p50_ms": round(percentile(lat, 50), 1),
            "p99_ms": round(percentile(lat, 99), 1), "max_ms": round(max(lat) if lat else float("nan"), 1),
            "lost": lost, "gaps_or_reorders": result["gaps"], "resyncs": result["resyncs"],
            "client_errors": result["errors"]}


def one_hall(stack: Stack, sizes=(500, 1000, 3000), events: int = 25) -> dict:
    rows = []
    for n in sizes:
        spacing = 0.4 + n / 2500
        floor_port = stack.start_floor()
        floor = measure(f"ws://127.0.0.1:{floor_port}/", {}, n, [f"demo:floor{n}"], events, spacing)
        stack.stop(stack.procs[-1])
        port, proc = stack.start_daphne(RT_DB_THREADS=2, RT_CLIENT_IDLE_SECONDS=3600)
        daphne = measure(f"ws://127.0.0.1:{port}/ws/v1/", stack.cookies, n, [f"demo:hall{n}"], events, spacing)
        stack.stop(proc)
        rows.append({"clients": n, "floor": floor, "daphne": daphne,
                     "p99_ratio": round(daphne["p99_ms"] / max(floor["p99_ms"], 0.1), 2)})
        print(f"  N={n:5d}  floor p50 {floor['p50_ms']:7.1f} p99 {floor['p99_ms']:7.1f} | daphne p50 "
              f"{daphne['p50_ms']:7.1f} p99 {daphne['p99_ms']:7.1f} ms | ratio {rows[-1]['p99_ratio']}"
              f" | lost {daphne['lost']} gaps {daphne['gaps_or_reorders']}", flush=True)
    return {"goal": "p99 <= 3x floor at N=3000, no lost or reordered events", "rows": rows}


def many_halls(stack: Stack, halls: int = 50, per_hall: int = 60, events: int = 20) -> dict:
    port, proc = stack.start_daphne(RT_DB_THREADS=2, RT_CLIENT_IDLE_SECONDS=3600)
    rooms = [f"demo:multi{i}" for i in range(halls)]
    try:
        result = measure(f"ws://127.0.0.1:{port}/ws/v1/", stack.cookies, halls * per_hall, rooms, events, 1.5)
    finally:
        stack.stop(proc)
    print(f"  {halls} halls x {per_hall}: p50 {result['p50_ms']} p99 {result['p99_ms']} ms, lost {result['lost']}",
          flush=True)
    return {"goal": "p99 <= 250 ms", **result}


def run() -> dict:
    stack = Stack()
    try:
        print("fan-out (a): one hall", flush=True)
        a = one_hall(stack)
        save("fanout_one_hall", a)
        print("fan-out (b): 50 halls x 60", flush=True)
        b = many_halls(stack)
        save("fanout_many_halls", b)
        return {"one_hall": a, "many_halls": b}
    finally:
        stack.close()


if __name__ == "__main__":
    run()
