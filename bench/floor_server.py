"""The floor: a plain ``websockets`` broadcast server. Every text frame it receives from a client that
says ``post`` is broadcast, as a push of the same shape, to every socket that joined that room."""

import asyncio
import json
import sys
import time

from websockets.asyncio.server import broadcast, serve

ROOMS: dict[str, set] = {}  # room -> its sockets
SEQ: dict[str, int] = {}  # room -> last seq


async def handler(ws):
    joined = []
    try:
        await ws.send(json.dumps({"v": 1, "hello": {}}))
        async for message in ws:
            data = json.loads(message)
            room = data.get("room", "")
            if data.get("cmd") == "room.join":
                ROOMS.setdefault(room, set()).add(ws)
                joined.append(room)
                await ws.send(json.dumps({"v": 1, "id": data["id"], "ok": True,
                                          "payload": {"mode": "snapshot", "positions": {"all": SEQ.get(room, 0)}}}))
            elif data.get("cmd") == "demo.post":
                SEQ[room] = SEQ.get(room, 0) + 1
                frame = json.dumps({"v": 1, "room": room, "stream": "all", "seq": SEQ[room],
                                    "epoch": "floor", "ts": time.time(), "event": "demo.posted",
                                    "payload": {"text": data["payload"]["text"], "by": "host"}},
                                   ensure_ascii=False, separators=(",", ":"))
                broadcast(ROOMS.get(room, ()), frame)
                await ws.send(json.dumps({"v": 1, "id": data["id"], "ok": True, "payload": {}}))
    finally:
        for room in joined:
            ROOMS[room].discard(ws)


async def main(port: int) -> None:
    async with serve(handler, "127.0.0.1", port, compression=None, max_queue=None):
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
