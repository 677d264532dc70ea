"""Bench (d): one worker vs two workers sharing Redis, in deliveries per second of server CPU time.

This machine has 2 cores shared with the load generators, so wall time says little: the figure is
the pushes counted at the clients divided by the CPU time (user + system, from /proc/<pid>/stat) the
server processes (the workers and Redis) spent while the host posted. Same clients, same events in
both set-ups: one worker holds all the clients; or two workers each hold half of them, the host
posting through the first and Redis ringing both. Goal (issue 4): two workers >= 0.8x the single
worker's efficiency, i.e. going through Redis to a second worker costs at most 20%. Rounds
alternate the set-ups so that both see the same machine; the best round of each counts (noise
from other work only ever adds CPU time).
"""

from __future__ import annotations

import asyncio
import time

from .common import Stack, cpu_seconds, loadavg, save, server_kinds
from .fanout import SERVER_ENV, post_events, start_clients, stop_clients

CLIENTS = 2000
EVENTS = 60
SPACING = 0.25


def one_setup(stack: Stack, redis_url: str, kind: str, workers: int, rounds_tag: str) -> dict:
    servers = [stack.start_server(kind, redis_url, **SERVER_ENV) for _ in range(workers)]
    urls = [f"ws://127.0.0.1:{port}/ws/v1/" for port, _ in servers]
    room = f"demo:cpu-{kind}-{workers}-{rounds_tag}"
    pids = [proc.pid for _, proc in servers] + [stack.redis_proc.pid]
    clients = start_clients(urls, stack.cookies["bidders"], CLIENTS, [room])
    try:
        time.sleep(1)
        load = loadavg()
        cpu0 = [cpu_seconds(pid) for pid in pids]
        started = time.time()
        sent, errors = asyncio.run(post_events(urls[0], stack.cookies["host"], [room], EVENTS, SPACING))
        cpu1 = [cpu_seconds(pid) for pid in pids]
        wall = time.time() - started
    finally:
        result = stop_clients(clients)
        for _, proc in servers:
            stack.stop(proc)
    cpu = [b - a for a, b in zip(cpu0, cpu1)]
    deliveries = result["deliveries"]
    return {"workers": workers, "clients": CLIENTS, "events": len(sent), "deliveries": deliveries,
            "expected": CLIENTS * len(sent), "cpu_seconds": round(sum(cpu), 2),
            "cpu_by_process": {"workers": [round(c, 2) for c in cpu[:-1]], "redis": round(cpu[-1], 2)},
            "wall_seconds": round(wall, 1), "deliveries_per_cpu_second": round(deliveries / max(sum(cpu), 0.01)),
            "gaps": result["gaps"] + result["repeats"], "refused_commands": len(errors), "load": load}


def run(servers=None, rounds: int = 2) -> dict:
    stack = Stack(postgres=True)
    out = {"goal": "two workers >= 0.8x the single worker's deliveries per CPU second",
           "database": stack.database, "clients": CLIENTS, "events": EVENTS, "spacing_s": SPACING}
    try:
        redis_url = stack.start_redis()
        print(f"fan-out (d): 1 vs 2 workers sharing Redis, deliveries per CPU second ({stack.database})",
              flush=True)
        for kind in servers or server_kinds():
            runs = {1: [], 2: []}
            for r in range(rounds):
                for workers in (1, 2):
                    row = one_setup(stack, redis_url, kind, workers, str(r))
                    runs[workers].append(row)
                    print(f"  {kind} {workers} worker(s): {row['deliveries']}/{row['expected']} deliveries, "
                          f"CPU {row['cpu_seconds']} s ({row['cpu_by_process']}) -> "
                          f"{row['deliveries_per_cpu_second']}/CPU s | load {row['load'][0]:.2f}", flush=True)
            best = {w: max(rows, key=lambda x: x["deliveries_per_cpu_second"]) for w, rows in runs.items()}
            ratio = best[2]["deliveries_per_cpu_second"] / max(best[1]["deliveries_per_cpu_second"], 1)
            out[kind] = {"one_worker": runs[1], "two_workers": runs[2], "ratio": round(ratio, 2),
                         "goal_met": ratio >= 0.8 and all(r["deliveries"] == r["expected"] and not r["gaps"]
                                                          for rows in runs.values() for r in rows)}
            print(f"  {kind}: two workers / one worker efficiency = {ratio:.2f}", flush=True)
        save("fanout_cpu", out)
        return out
    finally:
        stack.close()


if __name__ == "__main__":
    run()
