"""Fault tests with real processes: two Daphne workers sharing a Redis server this test starts on a
free port (and kills; never a shared service), and clients that resume from their positions."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess

import pytest

pytestmark = [pytest.mark.slow]

ROOM = "demo:cluster"
FAST = {"RT_RATE_PER_SECOND": 1000, "RT_RATE_BURST": 1000}  # the host posts in bursts here


@pytest.fixture(scope="module")
def stack():
    if shutil.which("redis-server") is None:
        from tests.conftest import need_service

        need_service("redis-server", "the binary is not installed")
    from bench.common import Stack

    s = Stack(users=4)
    yield s
    s.close()


class Client:
    """A resuming client: holds every push once, checks gap-free order, reconnects on demand."""

    def __init__(self, cookie: str):
        self.cookie, self.ws, self.reader = cookie, None, None
        self.pushes: list[dict] = []
        self.held: dict[str, int] = {}
        self.epoch = None
        self.replies: dict[str, asyncio.Future] = {}
        self.closed = asyncio.Event()
        self.n = 0

    async def open(self, port: int, room: str = ROOM, read: bool = True) -> dict:
        from websockets.asyncio.client import connect

        self.closed.clear()
        self.ws = await connect(f"ws://127.0.0.1:{port}/ws/v1/", origin="http://127.0.0.1",
                                additional_headers={"Cookie": "sessionid=" + self.cookie},
                                compression=None, ping_interval=None, max_size=2**24)
        json.loads(await self.ws.recv())
        payload = {"last_seq": dict(self.held), "epoch": self.epoch} if self.epoch else {}
        await self.ws.send(json.dumps({"v": 1, "id": "join", "cmd": "room.join", "room": room,
                                       "payload": payload}))
        while True:
            frame = self._take(json.loads(await self.ws.recv()))
            if frame.get("id") == "join":
                body = frame["payload"]
                if body["mode"] == "snapshot":
                    self.held = dict(body["positions"])
                self.epoch = body["epoch"]
                if read:
                    self.reader = asyncio.create_task(self._read())
                return body

    def _take(self, frame: dict) -> dict:
        if "seq" in frame and "event" in frame:
            want = self.held.get(frame["stream"], 0) + 1
            assert frame["seq"] == want, f"gap or repeat: got {frame['seq']} want {want}"
            self.held[frame["stream"]] = frame["seq"]
            self.pushes.append(frame)
        elif frame.get("id") in self.replies:
            self.replies.pop(frame["id"]).set_result(frame)
        return frame

    async def _read(self) -> None:
        try:
            async for message in self.ws:
                self._take(json.loads(message))
        except Exception:  # noqa: BLE001 - a dead worker: the test reconnects
            pass
        self.closed.set()

    async def command(self, cmd: str, **payload) -> dict:
        self.n += 1
        cid = f"c{self.n}"
        self.replies[cid] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"v": 1, "id": cid, "cmd": cmd, "room": ROOM, "payload": payload}))
        return await asyncio.wait_for(self.replies[cid], 10)

    def texts(self) -> list[str]:
        return [p["payload"]["text"] for p in self.pushes]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await asyncio.wait([self.reader], timeout=2)


async def eventually(predicate, timeout: float = 15) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    assert predicate()


async def test_two_workers_share_events_and_a_killed_workers_clients_resume_on_the_other(stack):
    redis_url = stack.start_redis()
    (p1, w1), (p2, w2) = stack.start_daphne(redis_url, **FAST), stack.start_daphne(redis_url, **FAST)
    host = Client(stack.cookies["host"])
    await host.open(p2)
    bidders = stack.cookies["bidders"]
    on1 = [Client(bidders[i % 4]) for i in range(6)]
    on2 = [Client(bidders[i % 4]) for i in range(6)]
    for c in on1:
        await c.open(p1)
    for c in on2:
        await c.open(p2)
    total = 60
    for i in range(total):
        assert (await host.command("demo.post", text=f"e{i}"))["ok"]
        if i == 20:
            os.kill(w1.pid, signal.SIGKILL)  # mid-stream, no goodbye
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*(c.closed.wait() for c in on1)), 10)
    for c in on1:
        body = await c.open(p2)  # to the surviving worker, from the positions held
        assert body["mode"] == "replay"
    want = [f"e{i}" for i in range(total)]
    await eventually(lambda: all(len(c.pushes) == total for c in on1 + on2))
    for c in on1 + on2:
        assert c.texts() == want  # every event exactly once, in the same order everywhere
    for c in on1 + on2 + [host]:
        await c.close()
    stack.stop(w2)


async def test_a_redis_restart_loses_nothing(stack):
    from bench.common import wait_port

    redis_url = stack.start_redis()
    redis_proc = stack.procs[-1]
    port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    (p1, w1), (p2, w2) = (stack.start_daphne(redis_url, RT_POLL_MS=300, **FAST),
                          stack.start_daphne(redis_url, RT_POLL_MS=300, **FAST))
    host = Client(stack.cookies["host"])
    await host.open(p2)
    clients = [Client(stack.cookies["bidders"][i % 4]) for i in range(6)]
    for i, c in enumerate(clients):
        await c.open(p1 if i % 2 else p2)
    total = 40
    for i in range(total):
        if i == 10:
            redis_proc.kill()
            redis_proc.wait()
        if i == 25:
            stack.procs.append(subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL))
            wait_port(port)
        assert (await host.command("demo.post", text=f"r{i}"))["ok"]  # the log does not need Redis
        await asyncio.sleep(0.02)
    await eventually(lambda: all(len(c.pushes) == total for c in clients))
    for c in clients:
        assert c.texts() == [f"r{i}" for i in range(total)]
    for c in clients + [host]:
        await c.close()
    stack.stop(w1)
    stack.stop(w2)


async def test_a_paused_client_that_fell_behind_is_told_to_resync_and_catches_up(stack):
    port, worker = stack.start_daphne(RT_MAX_BACKLOG_BYTES=32768, **FAST)
    host = Client(stack.cookies["host"])
    await host.open(port)
    slow = Client(stack.cookies["bidders"][0])
    await slow.open(port, read=False)  # joined, then reads nothing: its socket buffers fill up
    total = 300
    for i in range(total):
        assert (await host.command("demo.post", text=f"p{i} " + "填" * 280))["ok"]
    notices = []
    try:  # resume reading: what was buffered, then (if it overflowed) the resync notice and the close
        while len(slow.pushes) < total:
            frame = slow._take(json.loads(await asyncio.wait_for(slow.ws.recv(), 3)))
            if "resync" in frame:
                notices.append(frame)
    except Exception:  # noqa: BLE001 - closed by the server (4409)
        pass
    if len(slow.pushes) < total:
        # It fell behind further than the server buffers: told, never silently dropped.
        assert notices and notices[0]["resync"]["reason"] == "slow_consumer"
        assert slow.ws.close_code == 4409
        body = await slow.open(port)
        assert body["mode"] == "replay", body
        await eventually(lambda: len(slow.pushes) == total or slow.closed.is_set())
    assert [t.split(" ")[0] for t in slow.texts()] == [f"p{i}" for i in range(total)]
    for c in (slow, host):
        await c.close()
    stack.stop(worker)
