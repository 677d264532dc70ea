"""Builders for tests, benchmarks and demos: regions, venues with staff, an expert pool, bids, a lot,
the draw and a session, and a way to run actions as a given user without a socket.

``cli(["3,1,1", "4", "3"])`` (experts per venue, bidders, items; with ``DJANGO_SETTINGS_MODULE``
and a migrated database) builds one scenario and prints JSON: the session
id, room keys and a session cookie per person (for WebSocket clients in other processes).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bidding.actions import log_lot_created
from common import clock
from common.actor import Actor

from .workflow import Call

_counter = {"n": 0}


@dataclass
class Scenario:
    lot: Any
    session: Any
    venues: list  # main first
    staff: dict  # venue id -> user
    experts: dict  # member code -> user
    members: dict  # member code -> Member
    bidders: dict  # bidder code -> SessionBidder
    bidder_users: dict  # bidder code -> user
    supervisor: Any
    host: Any
    items: list
    criteria: list
    extra: dict = field(default_factory=dict)

    def venue_of(self, code: str) -> int:
        return self.members[code].venue_id


def credit_code(seed: str) -> str:
    from accounts.credit_code import check_character

    base = (seed + "0" * 17)[:17].upper()
    return base + check_character(base)


def default_items(n: int) -> list[dict]:
    """``n`` items: the first is objective, the rest subjective; technical 60 and business 10."""
    items = []
    tech = n - 1 if n > 1 else 1
    for i in range(n):
        category = "technical" if i < tech else "business"
        weight = 60 if category == "technical" else 10
        count = tech if category == "technical" else n - tech
        items.append({"id": f"i{i + 1}", "category": category, "kind": "objective" if i == 0 else "subjective",
                      "max": str(Decimal(weight) / count) if (Decimal(weight) / count) % Decimal("0.5") == 0
                      else "5", "step": "0.5"})
    return items


def build(*, per_venue: tuple[int, ...] = (3, 1, 1), n_bidders: int = 4, n_items: int = 3, blind: bool = False,
          settings: dict | None = None, tenderer_rep: bool = False, password: str = "") -> Scenario:
    """A lot with ``n_bidders`` bids, ``len(per_venue)`` venues (the first is the main one) and a
    drawn committee of ``sum(per_venue)`` experts seated by region, in the sign-in step."""
    from accounts.models import Organisation, User
    from bidding.models import Lot, Project

    from . import actions
    from .models import EvaluationBid, Expert, Region, Venue

    _counter["n"] += 1
    tag = f"{_counter['n']}{clock.now().strftime('%H%M%S%f')}"
    now = clock.now()

    def user(name, role, org=None):
        u = User(username=f"{name}-{tag}", role=role, organisation=org, display_name=name)
        if password:
            u.set_password(password)
        else:
            u.set_unusable_password()
        u.save()
        return u

    agency = Organisation.objects.create(name=f"代理{tag}", kind="agency", credit_code=credit_code(f"A{tag}"))
    tenderee = Organisation.objects.create(name=f"建设单位{tag}", kind="tenderee",
                                           credit_code=credit_code(f"T{tag}"))
    centre = Organisation.objects.create(name=f"交易中心{tag}", kind="trading_centre")
    host = user("host", "host", agency)
    supervisor = user("监督员", "supervisor")
    project = Project.objects.create(code=f"P{tag}", title="远程异地评标项目", tenderee=tenderee, agency=agency)
    lot_settings = {"weights": {"price": "30", "technical": "60", "business": "10"}, **(settings or {})}
    lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=now, signin_opens_at=now,
                             status="evaluating", evaluation_settings=lot_settings)
    log_lot_created(lot, Actor.system("evaluation.testing"))
    venues, staff, quotas = [], {}, {}
    for v, count in enumerate(per_venue):
        region = Region.objects.create(code=f"R{v}{tag}"[:12], name=f"地区{v}")
        venue = Venue.objects.create(name=f"{'主场' if v == 0 else '副场'}{v}-{tag}", region=region, centre=centre)
        s = user(f"场地工作人员{v}", "venue_staff")
        venue.staff.add(s)
        venues.append(venue)
        staff[venue.pk] = s
        quotas[region.code] = count
        for e in range(count):
            Expert.objects.create(user=user(f"专家{v}-{e}", "expert"), region=region,
                                  category="economic" if e == 1 else "technical", title="高级工程师")
    bidder_users = {}
    for b in range(n_bidders):
        org = Organisation.objects.create(name=f"投标人{b}有限公司{tag}", kind="bidder",
                                          credit_code=credit_code(f"B{b}X{tag}"))
        bidder_users[org.pk] = user(f"投标人{b}", "bidder", org)
        EvaluationBid.objects.create(lot=lot, bidder_org=org, bidder_name=org.name, credit_code=org.credit_code,
                                     price_fen=100_000_000 + 1_000_000 * b, announced={})
    call = Call(user=host, role="host", actor=Actor.of(host), now=now)
    draw = run_draw(lot, quotas=quotas, min_size=min(5, sum(per_venue)), host=host, supervisor=supervisor, now=now)
    items = default_items(n_items)
    criteria = ["资格", "符合性"]
    reps = [draw.committee[-1]] if tenderer_rep else []
    from django.db import transaction

    with transaction.atomic():
        session = actions.do_create_session(lot=lot, draw=draw, main_venue_id=venues[0].pk,
                                            sub_venue_ids=[v.pk for v in venues[1:]],
                                            scoring={"items": items, "criteria": criteria}, blind=blind,
                                            tenderer_reps=reps, k_percent="", call=call)
    members = {m.code: m for m in session.members.select_related("expert__user").order_by("code")}
    bidders = {b.code: b for b in session.bidders.order_by("code")}
    return Scenario(lot=lot, session=session, venues=venues, staff=staff,
                    experts={c: m.expert.user for c, m in members.items()}, members=members, bidders=bidders,
                    bidder_users={b.code: bidder_users[b.bidder_org_id] for b in bidders.values()},
                    supervisor=supervisor, host=host, items=items, criteria=criteria)


def contribution(draw_id: int, party: str) -> tuple[str, str]:
    """A party's value and its commitment for a draw, as a party's own machine makes them: (value hex,
    commitment hex)."""
    import secrets

    from .rules import draw_seed

    value = secrets.token_bytes(32)
    return value.hex(), draw_seed.commitment(draw_id, party, value)


def run_draw(lot, *, quotas: dict, host, supervisor, required: dict | None = None, min_size: int = 5,
             now=None, withhold: tuple[str, ...] = ()):
    """Every step of a draw (docs/draw.md): open, the supervisor's and the host's commitments, the
    snapshot, their reveals (except the parties in ``withhold``), and the committee (after the
    reveal window when someone withholds)."""
    from datetime import timedelta

    from . import actions_draw

    now = now or clock.now()

    def call(u, at=now):
        return Call(user=u, role="", actor=Actor.of(u), now=at)

    draw = actions_draw.do_open_draw(lot, quotas=quotas, required=required or {}, min_size=min_size,
                                     call=call(host))
    values = {}
    for party, u in (("supervisor", supervisor), ("host", host)):
        values[party], commitment = contribution(draw.pk, party)
        actions_draw.do_commit(draw.pk, commitment, call(u))
    actions_draw.do_publish_snapshot(draw.pk, call(host))
    for party, u in (("supervisor", supervisor), ("host", host)):
        if party not in withhold:
            actions_draw.do_reveal(draw.pk, values[party], call(u))
    draw.refresh_from_db()
    if draw.state == draw.State.REVEALING:
        actions_draw.do_finish(draw.pk, call(host, draw.reveal_deadline + timedelta(seconds=1)))
        draw.refresh_from_db()
    return draw


def sibling_lot(sc: Scenario, code: str = "02", **fields: Any):
    """Another lot of the scenario's project with the same bids and no draw yet (evaluating)."""
    from bidding.models import Lot

    from .models import EvaluationBid

    values = {"title": "第二标段", "bid_deadline": sc.lot.bid_deadline, "signin_opens_at": sc.lot.signin_opens_at,
              "status": "evaluating", "evaluation_settings": sc.lot.evaluation_settings, **fields}
    lot = Lot.objects.create(project=sc.lot.project, code=code, **values)
    log_lot_created(lot, Actor.system("evaluation.testing"))
    for bid in EvaluationBid.objects.filter(lot=sc.lot):
        EvaluationBid.objects.create(lot=lot, bidder_org_id=bid.bidder_org_id, bidder_name=bid.bidder_name,
                                     credit_code=bid.credit_code, price_fen=bid.price_fen, announced=bid.announced)
    return lot


def act(sc: Scenario, user, role: str, fn, venue_id: int | None = None, *, now=None, **payload) -> dict:
    """Run an action as ``user`` with ``role`` at ``venue_id`` (default: the main venue)."""
    from .actions import in_session

    venue_id = sc.venues[0].pk if venue_id is None else venue_id
    call = Call(user=user, role=role, actor=Actor.of(user), now=now or clock.now(), payload=payload)
    return in_session(sc.session.pk, fn, venue_id, call)


def expert_act(sc: Scenario, code: str, fn, **payload) -> dict:
    return act(sc, sc.experts[code], "expert", fn, sc.venue_of(code), **payload)


def main_staff_act(sc: Scenario, fn, **payload) -> dict:
    return act(sc, sc.staff[sc.venues[0].pk], "main_staff", fn, **payload)


def drive_to(sc: Scenario, target: str, *, score=None) -> None:
    """Walk the session to ``target`` (a step name) with every member agreeing; ``score(code,
    bidder) -> values`` gives the sheets (default: everyone gives each item its max)."""
    from . import actions as a
    from . import actions_scoring as s
    from .rules.steps import ORDER, Step

    def step() -> str:
        sc.session.refresh_from_db()
        return sc.session.state["step"]

    codes = sorted(sc.members)
    while ORDER.index(Step(step())) < ORDER.index(Step(target)):
        current = step()
        if current == "sign_in":
            for c in codes:
                expert_act(sc, c, a.do_sign_in)
                act(sc, sc.staff[sc.venue_of(c)], "main_staff" if sc.venue_of(c) == sc.venues[0].pk else "staff",
                    a.do_confirm, sc.venue_of(c), member=c)
        elif current == "pledge":
            for c in codes:
                expert_act(sc, c, a.do_pledge)
        elif current == "chair_election":
            chair = next(c for c in codes if not sc.members[c].tenderer_rep)
            for c in codes:
                expert_act(sc, c, a.do_vote_chair, candidate=chair)
        elif current == "compliance":
            for c in codes:
                for b in sc.bidders:
                    for crit in sc.criteria:
                        expert_act(sc, c, s.do_vote_compliance, bidder=b, criterion=crit, passed=True)
        elif current == "scoring":
            valid = set(sc.session.bidders.filter(rejected__isnull=True).values_list("code", flat=True))
            for c in codes:
                for b in sorted(valid):
                    values = score(c, b) if score else {i["id"]: i["max"] for i in sc.items}
                    expert_act(sc, c, s.do_score, bidder=b, values=values)
        main_staff_act(sc, a.do_next)


def session_cookie(user) -> str:
    from django.contrib.sessions.backends.db import SessionStore

    s = SessionStore()
    s["_auth_user_id"] = str(user.pk)
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = user.get_session_auth_hash()
    s.create()
    return s.session_key


def describe(sc: Scenario) -> dict:
    from .state import room_key

    return {
        "session": sc.session.pk,
        "venues": [v.pk for v in sc.venues],
        "rooms": [room_key(sc.session.pk, v.pk) for v in sc.venues],
        "staff": {str(v): session_cookie(u) for v, u in sc.staff.items()},
        "experts": {c: {"cookie": session_cookie(u), "venue": sc.venue_of(c)} for c, u in sc.experts.items()},
        "supervisor": session_cookie(sc.supervisor),
        "bidders": sorted(sc.bidders),
        "items": sc.items,
        "criteria": sc.criteria,
    }


def cli(argv: list[str] | None = None) -> None:
    """``python -c "import django; django.setup(); from evaluation.testing import cli; cli()" 3,1,1 4 3``"""
    argv = sys.argv[1:] if argv is None else argv
    per_venue = tuple(int(x) for x in argv[0].split(","))
    scenario = build(per_venue=per_venue, n_bidders=int(argv[1]), n_items=int(argv[2]))
    print(json.dumps(describe(scenario)))
