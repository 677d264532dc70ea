"""Helpers of the evaluation browser test (``test_journey_evaluation.py``).

Two halves, kept apart because the ORM does not work under Playwright's sync API:

- ``build_session()`` runs inside ``manage.py shell`` (a subprocess of the test) on the demo data:
  a lot with three bids, a drawn committee of five (three from the main venue's region 320100, two
  from the sub venue's 320500), the session (暗标), and a session cookie per person. It prints JSON.
  ``build_seated_session()``: the same, with the committee seated (in the chair election).
- ``Remote`` drives the experts the test does not open a browser for, over a real WebSocket
  (``websockets``' sync client), the way any other client of ``/ws/v1/`` would.
"""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

ITEMS = [
    {"id": "T1", "category": "technical", "kind": "objective", "max": "20", "step": "0.5"},
    {"id": "T2", "category": "technical", "kind": "subjective", "max": "40", "step": "0.5"},
    {"id": "B1", "category": "business", "kind": "subjective", "max": "10", "step": "0.5"},
]
CRITERIA = ["资格审查", "符合性审查"]
MAIN_REGION, SUB_REGION = "320100", "320500"
PRICES_FEN = {"bidder1": 1_186_000_00, "bidder2": 1_215_500_00, "bidder3": 1_199_990_00}


def build_session() -> None:
    """In ``manage.py shell``: the session and everyone's cookie, printed as one JSON line."""
    from django.db import transaction

    from accounts.models import Organisation, User
    from common.actor import Actor
    from bidding.models import Lot, Project
    from common import clock
    from evaluation import actions
    from evaluation.workflow import Call
    from evaluation.models import EvaluationBid, Venue
    from evaluation.testing import run_draw, session_cookie

    now = clock.now()
    project = Project.objects.get(code="NJSZ-2026-0188")
    n = Lot.objects.filter(project=project, code__startswith="EV").count() + 1
    lot = Lot.objects.create(
        project=project, code=f"EV{n}", title="远程异地评标演示标段", bid_deadline=now, signin_opens_at=now,
        status="evaluating", published_at=now,
        evaluation_settings={"weights": {"price": "30", "technical": "60", "business": "10"}})
    for username, fen in PRICES_FEN.items():
        org = User.objects.get(username=username).organisation
        EvaluationBid.objects.create(lot=lot, bidder_org=org, bidder_name=org.name, credit_code=org.credit_code,
                                     price_fen=fen, announced={})
    host = User.objects.get(username="host")
    call = Call(user=host, role="host", actor=Actor.of(host), now=now)
    draw = run_draw(lot, quotas={MAIN_REGION: 3, SUB_REGION: 2}, min_size=5, host=host,
                    supervisor=User.objects.get(username="supervisor"), now=now)
    main = Venue.objects.get(region__code=MAIN_REGION)
    sub = Venue.objects.get(region__code=SUB_REGION)
    with transaction.atomic():
        session = actions.do_create_session(
            lot=lot, draw=draw, main_venue_id=main.pk, sub_venue_ids=[sub.pk],
            scoring={"items": ITEMS, "criteria": CRITERIA}, blind=True, tenderer_reps=[], k_percent="", call=call)
    members = {m.code: {"username": m.expert.user.username, "venue": m.venue_id,
                        "cookie": session_cookie(m.expert.user)}
               for m in session.members.select_related("expert__user").order_by("code")}
    people = {u.username: session_cookie(u) for u in User.objects.filter(
        username__in=["supervisor", "host", f"venue_{MAIN_REGION}", f"venue_{SUB_REGION}"])}
    names = dict(session.bidders.values_list("code", "name"))
    assert Organisation.objects.filter(name__in=names.values()).count() == 3
    print(json.dumps({"session": session.pk, "lot": lot.pk, "main": main.pk, "sub": sub.pk,
                      "main_name": main.name, "sub_name": sub.name, "members": members, "cookies": people,
                      "bidders": sorted(names), "names": names}, ensure_ascii=False))


def build_seated_session() -> None:
    """In ``manage.py shell``: ``build_session``'s session with every member signed in, confirmed by
    its venue's staff and pledged, in the chair election with no step clock yet. Prints the same JSON
    (for the browser tests that start past the arrivals)."""
    import contextlib
    import io

    from accounts.models import User
    from common.actor import Actor
    from common import clock
    from evaluation import actions
    from evaluation.workflow import Call

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        build_session()
    ev = json.loads(out.getvalue().strip().splitlines()[-1])
    staff = {ev["main"]: ("main_staff", User.objects.get(username=f"venue_{MAIN_REGION}")),
             ev["sub"]: ("staff", User.objects.get(username=f"venue_{SUB_REGION}"))}

    def run(user, role, fn, venue, **payload):
        call = Call(user=user, role=role, actor=Actor.of(user), now=clock.now(), payload=payload)
        return actions.in_session(ev["session"], fn, venue, call)

    experts = {code: User.objects.get(username=m["username"]) for code, m in ev["members"].items()}
    for code, m in sorted(ev["members"].items()):
        run(experts[code], "expert", actions.do_sign_in, m["venue"])
        role, user = staff[m["venue"]]
        run(user, role, actions.do_confirm, m["venue"], member=code)
    run(staff[ev["main"]][1], "main_staff", actions.do_next, ev["main"])
    for code, m in sorted(ev["members"].items()):
        run(experts[code], "expert", actions.do_pledge, m["venue"])
    run(staff[ev["main"]][1], "main_staff", actions.do_next, ev["main"])
    print(json.dumps(ev, ensure_ascii=False))


class Remote:
    """One expert on a WebSocket of their own: ``call(cmd, payload)`` returns the reply's payload
    or raises ``RuntimeError`` with the error code."""

    def __init__(self, base_url: str, cookie: str, room: str):
        from websockets.sync.client import connect

        self.room = room
        self.ids = itertools.count(1)
        ws_url = base_url.replace("http://", "ws://") + "/ws/v1/"
        self._conn = connect(ws_url, additional_headers={"Cookie": f"sessionid={cookie}", "Origin": base_url},
                             open_timeout=10)
        self.ws = self._conn.__enter__()
        hello = json.loads(self.ws.recv(timeout=10))
        assert "hello" in hello, hello
        self.call("room.join", {})

    def call(self, cmd: str, payload: dict[str, Any] | None = None) -> dict:
        cid = f"py{next(self.ids)}"
        self.ws.send(json.dumps({"v": 1, "id": cid, "cmd": cmd, "room": self.room, "payload": payload or {}}))
        while True:
            frame = json.loads(self.ws.recv(timeout=20))
            if frame.get("id") == cid:
                if not frame.get("ok"):
                    raise RuntimeError(f"{cmd}: {frame['error']['code']} {frame['error']['message']}")
                return frame["payload"]
            if "hb" in frame:
                self.ws.send(json.dumps({"v": 1, "id": f"p{next(self.ids)}", "cmd": "ping", "payload": {}}))

    def close(self) -> None:
        self._conn.__exit__(None, None, None)


def sign_report(private_key, sha256_hex: str) -> str:
    """An Ed25519 signature of the report hash as ``eval.sign`` takes it (padded base64)."""
    message = b"kaibiao/evaluation-report/v1\x00" + sha256_hex.encode("ascii")
    return base64.b64encode(private_key.sign(message)).decode()
