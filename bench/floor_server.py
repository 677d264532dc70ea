"""The floor: a plain ``websockets`` broadcast server. Every text frame it receives from a client that
says ``post`` is broadcast, as a push of the same shape, to every connected socket."""

import asyncio
import json
import sys
import time

from websockets.asyncio.server import broadcast, serve

CLIENTS = set()
SEQ = {"n": 0}


async def handler(ws):
    CLIENTS.add(ws)
    try:
        await ws.send(json.dumps({"v": 1, "hello": {}}))
        async for message in ws:
            data = json.loads(message)
            if data.get("cmd") == "room.join":
                await ws.send(json.dumps({"v": 1, "id": data["id"], "ok": True,
                                          "payload": {"mode": "snapshot", "positions": {"all": SEQ["n"]}}}))
            elif data.get("cmd") == "demo.post":
                SEQ["n"] += 1
                frame = json.dumps({"v": 1, "room": data["room"], "stream": "all", "seq": SEQ["n"],
                                    "epoch": "floor", "ts": time.time(), "event": "demo.posted",
                                    "payload": {"text": data["payload"]["text"], "by": "host"}},
                                   ensure_ascii=False, separators=(",", ":"))
                broadcast(CLIENTS, frame)
                await ws.send(json.dumps({"v": 1, "id": data["id"], "ok": True, "payload": {}}))
    finally:
        CLIENTS.discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
