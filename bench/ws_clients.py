"""A load-generating process: many WebSocket clients on one asyncio loop (keep it light: 2 cores).

argv[1] is a JSON config: url, origin, cookies (cycled), n, rooms (cycled), start (index offset).
Prints ``READY`` when every client has joined; on ``STOP`` from stdin prints a JSON summary:
per (room, seq) the last arrival time and the number of arrivals, and the gaps/repeats seen.
"""

import asyncio
import json
import sys
import time

from websockets.asyncio.client import connect

STATE = {"last": {}, "count": {}, "gaps": 0, "resyncs": 0, "closed": 0, "errors": 0, "joined": 0}


async def client(i: int, cfg: dict, ready: asyncio.Event, gate: asyncio.Semaphore) -> None:
    room = cfg["rooms"][i % len(cfg["rooms"])]
    headers = {}
    if cfg.get("cookies"):
        headers["Cookie"] = "sessionid=" + cfg["cookies"][i % len(cfg["cookies"])]
    try:
        async with gate:
            ws = await connect(cfg["url"], origin=cfg["origin"], additional_headers=headers,
                               compression=None, max_size=2**22, open_timeout=60, ping_interval=None)
            json.loads(await ws.recv())  # hello
            await ws.send(json.dumps({"v": 1, "id": "j", "cmd": "room.join", "room": room, "payload": {}}))
            held = 0
            while True:
                frame = json.loads(await ws.recv())
                if frame.get("id") == "j":
                    held = frame["payload"]["positions"].get("all", 0)
                    break
        STATE["joined"] += 1
        if STATE["joined"] == cfg["n"]:
            ready.set()
        last, count = STATE["last"], STATE["count"]
        async for message in ws:
            now = time.time()
            frame = json.loads(message)
            seq = frame.get("seq")
            if seq is None:
                if "resync" in frame:
                    STATE["resyncs"] += 1
                continue
            if seq != held + 1:
                STATE["gaps"] += 1
            held = max(held, seq)
            key = f"{room}|{seq}"
            last[key] = now
            count[key] = count.get(key, 0) + 1
        STATE["closed"] += 1
    except Exception as exc:  # noqa: BLE001
        STATE["errors"] += 1
        if STATE["errors"] < 3:
            print(f"client {i}: {exc!r}", file=sys.stderr)
        if STATE["joined"] + STATE["errors"] >= cfg["n"]:
            ready.set()


async def main() -> None:
    cfg = json.loads(sys.argv[1])
    ready = asyncio.Event()
    gate = asyncio.Semaphore(cfg.get("concurrency", 40))
    tasks = [asyncio.create_task(client(cfg.get("start", 0) + i, cfg, ready, gate)) for i in range(cfg["n"])]
    await ready.wait()
    print("READY", STATE["joined"], STATE["errors"], flush=True)
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, sys.stdin.readline)
    print(json.dumps(STATE), flush=True)
    for t in tasks:
        t.cancel()


if __name__ == "__main__":
    asyncio.run(main())
