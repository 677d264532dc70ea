"""Evaluation benchmark: 9 experts in 3 venues scoring 200 bidders × 20 items.

(a) p99 time from one expert's score submission (a room command) to every venue seeing the updated
    summary: during scoring the live summary is the progress table (an expert's count of scored
    bidders); in the summary step a correction recomputes the whole aggregate and every venue gets it.
    Each venue's staff client sits on its own Daphne worker; the workers share a Redis started here.
(b) time to recompute the full aggregation and ranking (9 × 200 × 20 = 36,000 values): the pure
    rules alone, and ``compute_summary`` + ``compute_ranking`` from the database.
Goals: (a) ≤ 200 ms p99, (b) ≤ 1 s. Figures in bench/results/evaluation.json.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import time
from decimal import Decimal

from bench.common import PY, ROOT, Stack, percentile, save

EXPERTS, VENUES, BIDDERS, ITEMS = 9, 3, 200, 20
LIVE_BIDDERS = 20  # bidders scored live over the sockets; the rest are pre-filled in the database
CORRECTIONS = 20

PREPARE = """
import django, json, sys
django.setup()
from django.db import transaction
from common import clock
from evaluation import actions as a
from evaluation.models import ComplianceVote, ScoreSheet
from evaluation.testing import build, describe, drive_to, main_staff_act
sc = build(per_venue=(3, 3, 3), n_bidders=%(bidders)d, n_items=%(items)d)
drive_to(sc, "compliance")
now = clock.now()
ComplianceVote.objects.bulk_create([ComplianceVote(session=sc.session, member=m, bidder=b, criterion=c, passed=True,
    at=now) for m in sc.members.values() for b in sc.bidders.values() for c in sc.criteria])
main_staff_act(sc, a.do_next)
live = sorted(sc.bidders)[:%(live)d]
def values(m, b):
    return {i["id"]: str(Decimal(i["max"]) - Decimal((hash((m, b, i["id"])) %% 3)) / 2) for i in sc.items}
from decimal import Decimal
ScoreSheet.objects.bulk_create([ScoreSheet(session=sc.session, member=m, bidder=b, values=values(c, code), at=now)
    for c, m in sc.members.items() for code, b in sc.bidders.items() if code not in live])
out = describe(sc)
out["live"] = live
print(json.dumps(out))
"""

RECOMPUTE = """
import django, json, time
django.setup()
from common import clock
from common.actor import Actor
from django.db import transaction
from evaluation import actions_scoring as s, workflow as w
out = []
for _ in range(3):
    with transaction.atomic():
        session = w.lock_session(%(session)d)
        call = w.Call(user=None, role="system", actor=Actor.system("bench"), now=clock.now())
        t = time.perf_counter()
        s.compute_summary(session, call, require_complete=True)
        s.compute_ranking(session, call)
        out.append(time.perf_counter() - t)
        transaction.set_rollback(True)
print(json.dumps(out))
"""


def pure_recompute() -> list[float]:
    """The rules alone on 36,000 values: price scores, aggregate, alerts, ranking."""
    from evaluation.rules import aggregate as agg
    from evaluation.rules import alerts, price, ranking
    from evaluation.rules.numbers import Rounding
    from evaluation.testing import default_items

    items = agg.parse_items(default_items(ITEMS))
    experts = [f"E{i}" for i in range(1, EXPERTS + 1)]
    bidders = [f"B{i:03d}" for i in range(1, BIDDERS + 1)]
    sheets = {e: {b: {i.id: str(i.max - Decimal((hash((e, b, i.id)) % 3)) / 2) for i in items} for b in bidders}
              for e in experts}
    prices = {b: 100_000_000 + 10_000 * n for n, b in enumerate(bidders)}
    settings = agg.AggregateSettings(weights={"price": Decimal(30), "technical": Decimal(60),
                                              "business": Decimal(10)}, rounding=Rounding())
    times = []
    for _ in range(5):
        t = time.perf_counter()
        scored = price.f87_scores(prices, full_marks=30)
        result = agg.aggregate(items, sheets, experts=experts, price_scores=scored.exact, settings=settings)
        alerts.objective_alerts(items, sheets)
        alerts.outlier_alerts(items, agg.expert_raw_totals({e: {b: {i: Decimal(v) for i, v in vals.items()}
                                                                for b, vals in per.items()}
                                                            for e, per in sheets.items()}), percent=20)
        ranking.rank_by_score({b: r.total for b, r in result.items()}, prices, seed=b"s" * 32)
        times.append(time.perf_counter() - t)
    return times


async def live(stack: Stack, sc: dict, redis_url: str) -> dict:
    from tests.evaluation.test_remote_cluster import VenueClient

    ports = [stack.start_daphne(redis_url)[0] for _ in range(VENUES)]
    port_of = dict(zip(sc["venues"], ports))
    staff = [VenueClient(sc["staff"][str(v)], room, f"staff {v}") for v, room in zip(sc["venues"], sc["rooms"])]
    for c, v in zip(staff, sc["venues"]):
        await c.open(port_of[v])
    experts = {}
    for code, e in sorted(sc["experts"].items()):
        c = VenueClient(e["cookie"], sc["rooms"][sc["venues"].index(e["venue"])], code)
        await c.open(port_of[e["venue"]])
        experts[code] = c
    values = {i["id"]: i["max"] for i in sc["items"]}

    async def until(predicate, timeout=10.0):
        end = time.perf_counter() + timeout
        while not predicate():
            if time.perf_counter() > end:
                raise TimeoutError
            await asyncio.sleep(0.001)

    progress_ms = []
    for n, bidder in enumerate(sc["live"], start=1):
        for code, c in experts.items():
            want = BIDDERS - LIVE_BIDDERS + n
            t = time.perf_counter()
            await c.ok("eval.score", bidder=bidder, values=values)
            await until(lambda: all(s.state["progress"].get(code) == want for s in staff))
            progress_ms.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    await staff[0].ok("eval.next")
    await until(lambda: all(s.state.get("summary") for s in staff), 60)
    to_summary_ms = (time.perf_counter() - t) * 1000
    chair = experts["E1"]  # the first vote below elects E1
    correction_ms = []
    for n in range(CORRECTIONS):
        code = f"E{2 + n % (EXPERTS - 1)}"
        bidder = sc["live"][n % LIVE_BIDDERS]
        await chair.ok("eval.return_score", member=code, bidder=bidder, item="i1", reason="objective_inconsistent")
        before = json.dumps(staff[0].state["corrections"])
        value = str(Decimal(values["i1"]) - Decimal("0.5") * (1 + n // (EXPERTS - 1)))
        t = time.perf_counter()
        await experts[code].ok("eval.correct", bidder=bidder, item="i1", value=value)
        await until(lambda: all(json.dumps(s.state["corrections"]) != before for s in staff))
        correction_ms.append((time.perf_counter() - t) * 1000)
    for c in staff + list(experts.values()):
        await c.close()

    def figures(ms):
        return {"n": len(ms), "p50_ms": round(statistics.median(ms), 1), "p99_ms": round(percentile(ms, 99), 1),
                "max_ms": round(max(ms), 1)}

    return {"score_to_every_venue_progress": figures(progress_ms),
            "correction_to_every_venue_summary": figures(correction_ms),
            "next_to_every_venue_summary_ms": round(to_summary_ms, 1)}


def main() -> dict:
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()  # the reducer and the builders import models (no database is used here)
    figures: dict = {"setup": {"experts": EXPERTS, "venues": VENUES, "bidders": BIDDERS, "items": ITEMS,
                               "values": EXPERTS * BIDDERS * ITEMS}}
    pure = pure_recompute()
    figures["recompute_pure_rules_s"] = {"median": round(statistics.median(pure), 3), "max": round(max(pure), 3)}
    stack = Stack(users=1)
    try:
        stack.env.update({"RT_RATE_PER_SECOND": "1000", "RT_RATE_BURST": "1000", "LOG_LEVEL": "WARNING"})
        prep = PREPARE % {"bidders": BIDDERS, "items": ITEMS, "live": LIVE_BIDDERS}
        out = subprocess.run([PY, "-c", prep], cwd=ROOT, env=stack.env, check=True, capture_output=True,
                             text=True).stdout
        sc = json.loads(out.strip().splitlines()[-1])
        redis_url = stack.start_redis()
        # The chair: everyone voted E1 during preparation (drive_to elects the first member).
        figures.update(asyncio.run(live(stack, sc, redis_url)))
        out = subprocess.run([PY, "-c", RECOMPUTE % {"session": sc["session"]}], cwd=ROOT, env=stack.env,
                             check=True, capture_output=True, text=True).stdout
        db = json.loads(out.strip().splitlines()[-1])
        figures["recompute_from_database_s"] = {"median": round(statistics.median(db), 3), "max": round(max(db), 3)}
    finally:
        stack.close()
    p99 = figures["correction_to_every_venue_summary"]["p99_ms"]
    figures["goals"] = {"p99_le_200ms": max(p99, figures["score_to_every_venue_progress"]["p99_ms"]) <= 200,
                        "recompute_le_1s": figures["recompute_from_database_s"]["max"] <= 1}
    figures["machine_note"] = "SQLite, Daphne × 3 and Redis on this machine; clients in the same process"
    save("evaluation", figures)
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=1, ensure_ascii=False))
