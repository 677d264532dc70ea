"""A whole remote evaluation over real WebSockets: the main venue's people on one Daphne worker, a
sub venue's on another, a ticker, and a Redis this test starts on a free port (and stops). Steps
stay in sync, a sub venue that drops (its worker is killed) locks the session and its return
resumes it, and the summary is identical in every venue."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess

import pytest

from tests.conftest import need_tool
from tests.realtime_client import LiveClient, eventually

from evaluation.state import apply_patch

pytestmark = [pytest.mark.slow]

FAST = {"RT_RATE_PER_SECOND": 1000, "RT_RATE_BURST": 1000, "RT_HEARTBEAT_SECONDS": 1,
        "RT_PRESENCE_STALE_SECONDS": 2, "RT_POLL_MS": 300, "EVAL_VENUE_DROP_SECONDS": 2,
        "EVAL_PRESENCE_CHECK_MS": 300}


@pytest.fixture(scope="module")
def stack():
    need_tool("redis-server")
    from bench.common import PY, ROOT, Stack

    s = Stack(users=1)
    s.env.update({k: str(v) for k, v in FAST.items()})
    out = subprocess.run([PY, "-c", "import django; django.setup(); from evaluation.testing import cli; "
                                    "cli(['3,2', '4', '3'])"], cwd=ROOT, env=s.env, check=True,
                         capture_output=True, text=True).stdout
    s.scenario = json.loads(out.strip().splitlines()[-1])
    s.procs.append(subprocess.Popen([PY, "manage.py", "ticker", "--interval", "0.2"], cwd=ROOT, env=s.env,
                                    stdout=subprocess.DEVNULL, stderr=open(s.dir / "ticker.log", "w")))
    yield s
    s.close()


class VenueClient(LiveClient):
    """One person in one venue room: keeps the room's state with the kind's reducer."""

    def __init__(self, cookie: str, room: str, name: str):
        super().__init__(cookie, room, name)
        self.state: dict = {}

    def on_snapshot(self, snapshot: dict) -> None:
        self.state = snapshot

    def on_push(self, frame: dict) -> None:
        self.state = apply_patch(self.state, frame)

    async def ok(self, cmd: str, **payload) -> dict:
        reply = await self.command(cmd, **payload)
        assert reply["ok"], (self.name, cmd, reply)
        return reply["payload"]


async def test_a_remote_evaluation_across_two_workers_stays_in_sync_and_survives_a_sub_venue_drop(stack):
    sc = stack.scenario
    redis_url = stack.start_redis()
    (p_main, w_main), (p_sub, w_sub) = stack.start_daphne(redis_url), stack.start_daphne(redis_url)
    main_vid, sub_vid = sc["venues"]
    main_room, sub_room = sc["rooms"]
    staff = {main_vid: VenueClient(sc["staff"][str(main_vid)], main_room, "main staff"),
             sub_vid: VenueClient(sc["staff"][str(sub_vid)], sub_room, "sub staff")}
    experts = {code: VenueClient(e["cookie"], main_room if e["venue"] == main_vid else sub_room, code)
               for code, e in sc["experts"].items()}
    supervisor = VenueClient(sc["supervisor"], sub_room, "supervisor")
    on_main = [staff[main_vid]] + [c for c in experts.values() if c.room == main_room]
    on_sub = [staff[sub_vid], supervisor] + [c for c in experts.values() if c.room == sub_room]
    for c in on_main:
        await c.open(p_main)
    for c in on_sub:
        await c.open(p_sub)
    everyone = on_main + on_sub
    driver = staff[main_vid]

    async def next_step(step: str) -> None:
        await driver.ok("eval.next")
        await eventually(lambda: all(c.state["session"]["step"] == step for c in everyone))

    for code, c in sorted(experts.items()):
        await c.ok("eval.sign_in")
        await staff[sc["experts"][code]["venue"]].ok("eval.confirm", member=code)
    await next_step("pledge")
    for c in experts.values():
        await c.ok("eval.pledge")
    await driver.ok("eval.show_document", id="tender", title="招标文件", page=2)
    await next_step("chair_election")
    for c in experts.values():
        await c.ok("eval.vote_chair", candidate="E1")
    await eventually(lambda: all(c.state["session"]["chair"] == "E1" for c in everyone))
    await next_step("compliance")
    assert all(c.state["session"]["document"]["title"] == "招标文件" for c in everyone)
    for c in experts.values():
        for b in sc["bidders"]:
            for crit in sc["criteria"]:
                await c.ok("eval.vote_compliance", bidder=b, criterion=crit, passed=True)
    await next_step("scoring")
    await driver.ok("eval.set_clock", minutes=60)
    await eventually(lambda: len({c.state["session"]["deadline"] for c in everyone}) == 1)

    # The sub venue's worker dies: nobody is present there; the session locks in every venue.
    os.kill(w_sub.pid, signal.SIGKILL)
    await eventually(lambda: all(c.state["session"]["locked"] for c in on_main), timeout=30)
    assert on_main[0].state["session"]["missing_venues"] == [str(sub_vid)]
    assert on_main[0].state["venues"][str(sub_vid)]["down"] is True
    values = {i["id"]: i["max"] for i in sc["items"]}
    refused = await experts["E1"].command("eval.score", bidder=sc["bidders"][0], values=values)
    assert not refused["ok"] and refused["error"]["code"] == "invalid_state"
    await asyncio.wait_for(asyncio.gather(*(c.closed.wait() for c in on_sub)), 10)

    # It comes back on a new worker; its clients resume from their positions; the session resumes.
    p_back, w_back = stack.start_daphne(redis_url)
    for c in on_sub:
        body = await c.open(p_back)
        assert body["mode"] == "replay"
    await eventually(lambda: all(not c.state["session"]["locked"] for c in everyone), timeout=30)
    lock = on_main[0].state["session"]["locks"][0]
    assert lock["venues"] == [str(sub_vid)] and lock["ended_at"] is not None
    assert all(c.state["session"]["locks"] == [lock] for c in everyone)

    for code, c in sorted(experts.items()):
        for n, b in enumerate(sc["bidders"]):
            mine = dict(values, i2=str(int(values["i2"].split(".")[0]) - n - int(code[1:])))
            await c.ok("eval.score", bidder=b, values=mine)
    await eventually(lambda: all(c.state["progress"] == {k: len(sc["bidders"]) for k in experts} for c in everyone))
    await next_step("summary")
    summaries = [c.state["summary"] for c in everyone]
    assert summaries[0] and all(s == summaries[0] for s in summaries)  # the same in every venue
    for code, c in experts.items():  # each expert saw only their own sheet while scoring
        assert set(c.state["sheets"]) == {code}
    assert set(supervisor.state["sheets"]) == {k for k, e in sc["experts"].items() if e["venue"] == sub_vid}
    await next_step("ranking")
    assert len({json.dumps(c.state["ranking"], sort_keys=True) for c in everyone}) == 1
    for c in everyone:
        await c.close()
    for proc in (w_main, w_back):
        stack.stop(proc)
