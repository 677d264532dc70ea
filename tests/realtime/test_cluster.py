"""Fault tests with real processes: two Daphne workers sharing a Redis server this test starts on a
free port (and kills; never a shared service), and clients that resume from their positions."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess

import pytest

from tests.conftest import need_tool
from tests.realtime_client import LiveClient, eventually

pytestmark = [pytest.mark.slow]

ROOM = "demo:cluster"
FAST = {"RT_RATE_PER_SECOND": 1000, "RT_RATE_BURST": 1000}  # the host posts in bursts here


@pytest.fixture(scope="module")
def stack():
    need_tool("redis-server")
    from bench.common import Stack

    s = Stack(users=4)
    yield s
    s.close()


class Client(LiveClient):
    """A resuming client of the demo room that keeps every push it holds."""

    def __init__(self, cookie: str, room: str = ROOM):
        super().__init__(cookie, room)
        self.pushes: list[dict] = []

    def on_push(self, frame: dict) -> None:
        self.pushes.append(frame)

    def texts(self) -> list[str]:
        return [p["payload"]["text"] for p in self.pushes]


def _server(kind: str) -> str:
    if kind == "uvicorn":
        pytest.importorskip("uvicorn", reason="uvicorn is not installed (the benches measure it when it is)")
    return kind


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
async def test_two_workers_share_events_and_a_killed_workers_clients_resume_on_the_other(stack, kind):
    redis_url = stack.start_redis()
    kind = _server(kind)
    (p1, w1), (p2, w2) = stack.start_server(kind, redis_url, **FAST), stack.start_server(kind, redis_url, **FAST)
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
                [need_tool("redis-server"), "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
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
