"""``python -m bench.run_all``: run every bench module (a module with ``run()`` or ``main()``; each
saves its figures in bench/results/<name>.json), then print a table of the figures.
``python -m bench.run_all fanout fanout_storm`` runs those only. Never run by the tests."""

import importlib
import json
import pkgutil
import resource
import sys
import time

import bench
from bench.common import RESULTS

SKIP = {"common", "run_all", "ws_clients", "floor_server", "make_sessions", "fanout_asgi", "upload_sink"}


def _load(name: str):
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fanout_table() -> list[str]:
    """The real-time benches' figures, one line each, with the load average they ran under."""
    lines = []
    a = _load("fanout_one_hall")
    if a:
        lines.append(f"(a) one hall, time for an event to reach every client ({a.get('database', '?')}); "
                     "goal p99 <= 3x floor at N=3000, nothing lost")
        for row in a["rows"]:
            f = row["floor"]
            for kind in a.get("servers", ["daphne"]):
                r = row[kind]
                lines.append(f"    N={row['clients']:5d} {kind:8s} p50 {r['p50_ms']:7.1f} p99 {r['p99_ms']:7.1f} ms | floor "
                             f"p50 {f['p50_ms']:7.1f} p99 {f['p99_ms']:7.1f} | p99 x{row[f'{kind}_p99_ratio']:<5} "
                             f"lost {r['lost']} gaps {r['gaps_or_reorders']} | load {r['load_before'][0]:.2f}")
    b = _load("fanout_many_halls")
    if b:
        lines.append(f"(b) {b['halls']} halls x {b['per_hall']} ({b.get('database', '?')}); goal p99 <= 250 ms")
        for key, r in b.items():
            if isinstance(r, dict) and "p99_ms" in r:
                lines.append(f"    {key:18s} p50 {r['p50_ms']:7.1f} p99 {r['p99_ms']:7.1f} ms lost {r['lost']} "
                             f"gaps {r['gaps_or_reorders']} | load {r['load_before'][0]:.2f}")
    c = _load("fanout_storm")
    if c:
        lines.append("(c) reconnect storm, 3,000 clients; goal all caught up within 10 s, zero gaps")
        for r in c["rows"]:
            lines.append(f"    {r['server']:8s} x{r.get('workers', 1)} {r['handshake_auth']:8s} auth: all rejoined in "
                         f"{r['all_rejoined_s']} s (p50 {r['p50_rejoin_s']} s), gaps {r['gaps']}, repeats {r['repeats']}, "
                         f"complete {r['clients_holding_every_event']}/{r['clients']}, retries {r['handshake_retries']}, "
                         f"server CPU {r.get('server_cpu_ms_per_reconnect', '?')} ms/reconnect | load {r['load_before'][0]:.2f} | goal {'met' if r['goal_met'] else 'NOT met'}")
    d = _load("fanout_cpu")
    if d:
        lines.append("(d) deliveries per CPU second (workers + Redis); goal two workers >= 0.8x one")
        for kind, r in d.items():
            if isinstance(r, dict) and "ratio" in r:
                one = max(x["deliveries_per_cpu_second"] for x in r["one_worker"])
                two = max(x["deliveries_per_cpu_second"] for x in r["two_workers"])
                loads = [x["load"][0] for x in r["one_worker"] + r["two_workers"]]
                lines.append(f"    {kind:8s} one worker {one:7d}/CPU s, two workers {two:7d}/CPU s: x{r['ratio']} "
                             f"| load {min(loads):.2f}-{max(loads):.2f} | goal {'met' if r['goal_met'] else 'NOT met'}")
    return lines


def main(argv: list[str]) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 20000), hard))
    names = [m.name for m in pkgutil.iter_modules(bench.__path__) if m.name not in SKIP]
    if argv:
        names = [n for n in names if n in argv]
    failed = []
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        entry = getattr(module, "run", None) or getattr(module, "main", None)
        if entry is None:
            continue
        start = time.time()
        print(f"== bench.{name}", flush=True)
        try:
            entry()
        except Exception as exc:  # noqa: BLE001 - the other benches still run; reported below
            failed.append(f"{name}: {exc!r}")
            print(f"== bench.{name} FAILED: {exc!r}", flush=True)
            continue
        print(f"== bench.{name} done in {time.time() - start:.0f} s (figures in bench/results/)",
              flush=True)
    print("\n== figures (bench/results/)")
    for line in fanout_table():
        print(line)
    for name in ("audit", "envelope", "memory", "upload", "upload_server"):
        data = _load(name)
        if data:
            print(f"{name}: {json.dumps(data, ensure_ascii=False, default=str)[:600]}")
    if failed:
        print("\nFAILED: " + "; ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1:])
