"""A whole opening through real WebSockets on two Daphne workers sharing a Redis server (started by
the test on a free port, with a ticker process): 5 bidders (carol never decrypts, bob fails then
retries), the host and a supervisor, clients spread over both workers. Everyone sees the same
public events in the same order; bidders never see what they must not.

Run as ``python -m tests.bidding.test_hall_cluster setup|deadline|close`` inside the stack's
environment, the module prepares and moves the stack's own database (the test's clock shortcut).
"""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys

import pytest

NAMES = ("alice", "bob", "carol", "dave", "erin")


def _setup() -> dict:
    from datetime import timedelta

    from django.contrib.sessions.backends.db import SessionStore

    from accounts.models import Organisation, User
    from common.actor import Actor
    from bidding import certificates, submissions
    from bidding.models import Lot, Project
    from common import clock
    from crypto import ca, envelope, keys
    from tests.bidding.test_opening_support import PRICES, bid_package
    from tests.conftest import make_code

    def session(user) -> str:
        s = SessionStore()
        s.update({"_auth_user_id": str(user.pk), "_auth_user_hash": user.get_session_auth_hash(),
                  "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
        s.create()
        return s.session_key

    now = clock.now()
    agency = Organisation.objects.create(name="乙招标代理", kind="agency", credit_code=make_code("91320100AG1"))
    tenderee = Organisation.objects.create(name="甲建设单位", kind="tenderee", credit_code=make_code("91320100TE1"))
    host = User.objects.create(username="host", role="host", organisation=agency)
    sup = User.objects.create(username="sup", role="supervisor")
    project = Project.objects.create(code="ZB-LIVE", title="现场项目", tenderee=tenderee, agency=agency)
    lot = Lot.objects.create(project=project, code="01", title="施工", status="published",
                             bid_deadline=now + timedelta(days=1), signin_opens_at=now - timedelta(minutes=1))
    out = {"lot": lot.pk, "host": session(host), "supervisor": session(sup), "bidders": {}}
    for i, name in enumerate(NAMES):
        org = Organisation.objects.create(name=f"{name.title()} 有限公司", kind="bidder",
                                          credit_code=make_code(f"91320100L{i}X"))
        user = User.objects.create(username=name, role="bidder", organisation=org)
        key = keys.generate_bidder_key()
        csr = ca.make_csr(key, organisation=org.name, credit_code=org.credit_code).decode()
        cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
        certificates.decide_certificate(host, Actor.of(host), cert.pk, approve=True, now=now)
        env = envelope.seal_bytes(bid_package(lot, org, PRICES[name]), tender_id=project.code, lot_id=lot.code,
                                  bidder_id=org.credit_code, recipients=[envelope.Recipient("bidder", key.public_key())])
        up = submissions.start_upload(user, Actor.of(user), lot.pk, size=len(env), sha256=None, now=now)
        import io

        stream = io.BytesIO(env)
        submissions.write_chunk(user, Actor.of(user), up.pk, offset=0, length=len(env), read=stream.read, now=now)
        submissions.complete_upload(user, Actor.of(user), up.pk, now=now)
        header = envelope.read_header(io.BytesIO(env))
        file_key = envelope.unwrap_file_key(header, key, role="bidder")
        out["bidders"][name] = {"cookie": session(user), "org": str(org.pk), "price": PRICES[name],
                                "file_key": base64.b64encode(file_key).decode(),
                                "scalar": keys.private_key_to_scalar(key).hex()}
    return out


def _move(what: str, lot_id: int) -> None:
    from common import clock

    now = clock.now()
    if what == "deadline":
        from bidding.models import Lot

        Lot.objects.filter(pk=lot_id).update(bid_deadline=now)
    else:
        from bidding.models import Opening

        Opening.objects.filter(lot_id=lot_id).update(decryption_ends_at=now, next_check=now)


class Hall:
    """A client of one hall: records pushes per stream (gap-free), replies by id."""

    def __init__(self, name: str, cookie: str):
        self.name, self.cookie = name, cookie
        self.pushes: list[dict] = []
        self.held: dict[str, int] = {}
        self.replies: dict[str, asyncio.Future] = {}
        self.n = 0
        self.snapshot = None

    async def open(self, port: int, room: str) -> None:
        from websockets.asyncio.client import connect

        self.room = room
        self.ws = await connect(f"ws://127.0.0.1:{port}/ws/v1/", origin="http://127.0.0.1",
                                additional_headers={"Cookie": "sessionid=" + self.cookie}, ping_interval=None)
        json.loads(await self.ws.recv())
        self.reader = asyncio.create_task(self._read())
        body = await self.command("room.join")
        assert body["ok"], body
        self.snapshot = body["payload"]["snapshot"]
        self.held = dict(body["payload"]["positions"])

    async def _read(self) -> None:
        async for message in self.ws:
            frame = json.loads(message)
            if "seq" in frame and "event" in frame:
                want = self.held.get(frame["stream"], 0) + 1
                assert frame["seq"] == want, (self.name, frame, want)
                self.held[frame["stream"]] = frame["seq"]
                self.pushes.append(frame)
            elif frame.get("id") in self.replies:
                self.replies.pop(frame["id"]).set_result(frame)

    async def command(self, cmd: str, **payload) -> dict:
        self.n += 1
        cid = f"c{self.n}"
        self.replies[cid] = asyncio.get_running_loop().create_future()
        await self.ws.send(json.dumps({"v": 1, "id": cid, "cmd": cmd, "room": self.room, "payload": payload}))
        return await asyncio.wait_for(self.replies[cid], 20)

    def public(self) -> list[tuple]:
        return [(p["seq"], p["event"], json.dumps(p["payload"], sort_keys=True))
                for p in self.pushes if p["stream"] == "all"]

    def phase(self) -> str | None:
        phases = [p["payload"]["phase"]["phase"] for p in self.pushes if p["event"] == "hall.phase"]
        return phases[-1] if phases else None


async def eventually(predicate, timeout: float = 20) -> None:
    for _ in range(int(timeout / 0.05)):
        if predicate():
            return
        await asyncio.sleep(0.05)
    assert predicate()


@pytest.fixture(scope="module")
def stack():
    from tests.conftest import need_tool

    need_tool("redis-server")
    from bench.common import PY, ROOT, Stack

    s = Stack(users=0)
    out = subprocess.run([PY, "-m", "tests.bidding.test_hall_cluster", "setup"], cwd=ROOT, env=s.env,
                         check=True, capture_output=True, text=True).stdout
    s.hall = json.loads(out.strip().splitlines()[-1])
    yield s
    s.close()


def run(stack, what: str) -> None:
    from bench.common import PY, ROOT

    subprocess.run([PY, "-m", "tests.bidding.test_hall_cluster", what, str(stack.hall["lot"])], cwd=ROOT,
                   env=stack.env, check=True)


async def test_a_live_opening_on_two_workers_sends_everyone_the_same_events_in_order(stack):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    from bench.common import PY, ROOT
    from crypto import keys

    setup = stack.hall
    redis_url = stack.start_redis()
    fast = {"RT_RATE_PER_SECOND": 1000, "RT_RATE_BURST": 1000, "RT_TICKER_MS": 200}
    (p1, _), (p2, _) = stack.start_daphne(redis_url, **fast), stack.start_daphne(redis_url, **fast)
    env = dict(stack.env, REDIS_URL=redis_url, RT_TICKER_MS="200")
    stack.procs.append(subprocess.Popen([PY, "manage.py", "ticker"], cwd=ROOT, env=env))
    room = f"hall:{setup['lot']}"
    host, sup = Hall("host", setup["host"]), Hall("sup", setup["supervisor"])
    bidders = {n: Hall(n, b["cookie"]) for n, b in setup["bidders"].items()}
    await host.open(p1, room)
    await sup.open(p2, room)
    for i, (name, c) in enumerate(bidders.items()):
        await c.open(p1 if i % 2 else p2, room)
    everyone = [host, sup, *bidders.values()]
    await eventually(lambda: all(c.phase() == "signin_open" or c.snapshot["phase"]["phase"] == "signin_open"
                                 for c in everyone))
    # Before the deadline: a bidder's view names no other bidder and no count.
    for name, c in bidders.items():
        text = json.dumps(c.snapshot, ensure_ascii=False) + json.dumps(c.pushes, ensure_ascii=False)
        assert c.snapshot["bidders"] is None and c.snapshot["bids_on_file"] is None
        assert not any(o.title() in text for o in NAMES if o != name)
    assert (await bidders["alice"].command("hall.chat", text="主持人好"))["ok"]

    run(stack, "deadline")
    await eventually(lambda: all(c.phase() == "decrypting" for c in everyone))
    bad = await bidders["bob"].command("hall.release_key", file_key=base64.b64encode(b"\1" * 32).decode())
    assert bad["error"]["code"] == "invalid_file_key"
    for name in ("bob", "alice", "dave", "erin"):
        reply = await bidders[name].command("hall.release_key", file_key=setup["bidders"][name]["file_key"])
        assert reply["ok"] and reply["payload"]["status"] == "decrypted", reply
    await eventually(lambda: all(any(p["event"] == "hall.progress" and p["payload"]["progress"]["decrypted"] == 4
                                     for p in c.pushes) for c in everyone))
    # During decryption: no price and no other bidder's own stream reaches a bidder.
    for name, c in bidders.items():
        text = json.dumps(c.pushes, ensure_ascii=False)
        for other, b in setup["bidders"].items():
            if other != name:
                assert str(b["price"]) not in text
                assert not any(p["stream"] == f"org:{b['org']}" for p in c.pushes)
    assert not any(p["event"] == "hall.chat" for name, c in bidders.items() if name != "alice" for p in c.pushes)

    run(stack, "close")
    await eventually(lambda: all(any(p["event"] == "hall.announced" for p in c.pushes) for c in everyone))
    announced = next(p for p in bidders["carol"].pushes if p["event"] == "hall.announced")["payload"]
    status = {e["name"].split()[0].lower(): e["status"] for e in announced["announcement"]}
    assert status == {"alice": "decrypted", "bob": "decrypted", "carol": "revoked", "dave": "decrypted",
                      "erin": "decrypted"}
    assert (await host.command("hall.start_confirmation"))["ok"]
    await eventually(lambda: all(any(p["event"] == "hall.record" for p in c.pushes) for c in everyone))
    rec = next(p for p in bidders["alice"].pushes if p["event"] == "hall.record")["payload"]["record"]
    for name in ("alice", "bob", "dave", "erin"):
        key = keys.private_key_from_scalar(bytes.fromhex(setup["bidders"][name]["scalar"]))
        sig = base64.b64encode(key.sign(rec["message"].encode(), ec.ECDSA(hashes.SHA256()))).decode()
        assert (await bidders[name].command("hall.confirm", signature=sig, hash=rec["hash"]))["ok"]
    assert (await bidders["carol"].command("hall.object", text="我方未能解密"))["ok"]
    await eventually(lambda: all(c.phase() == "closed" for c in everyone))
    await asyncio.sleep(0.3)
    want = host.public()
    assert len(want) > 15
    for c in everyone:
        assert c.public() == want, c.name  # the same public events, in the same order, on both workers
    for c in everyone:
        await c.ws.close()


if __name__ == "__main__":
    import django

    django.setup()
    if sys.argv[1] == "setup":
        print(json.dumps(_setup()))
    else:
        _move(sys.argv[1], int(sys.argv[2]))
