"""Proof benchmarks on PostgreSQL (issue 12): ``audit_check`` over 1,000,000 entries (goal ≤ 60 s)
and the ticker's incremental check per tick; the export and the offline verification of a tender
archive of 10,000 entries (goal ≤ 5 s each); and the append rate with witnesses and a TSA on
(goal still ≥ 2,000 entries/s: they are off the append's path), against the same run with them off.

The million-entry log is generated, not appended one by one: bodies in the platform's canonical
format, leaf hashes, stored nodes, checkpoint records with their tender counts, signed notes and
the head, written with COPY — exactly what ``log_action`` and ``issue_checkpoint`` would have
stored, which ``audit_check`` then recomputes and must find OK.

Run: ``python -m bench.bench_proofs`` (``make bench`` runs every bench). Needs PostgreSQL at
``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/kaibiao_bench_proofs, created
here) and, for the append run with anchors, ``openssl``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kaibiao_bench_proofs")
ENTRIES = int(os.environ.get("BENCH_PROOF_ENTRIES", "1000000"))
LOT_ENTRIES = 10_000
CHECKPOINT_EVERY = 20_000
INCREMENT = 5_000


def _env(db_url: str = DB_URL, root: Path = ROOT, **extra) -> dict:
    env = dict(os.environ, DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="config.settings",
               PYTHONPATH=str(root), AUDIT_SEQUENCING="batched", KAIBIAO_VAR_DIR=str(ROOT / "var"), **extra)
    env.pop("REDIS_URL", None)
    return env


def _fresh_database(db_url: str = DB_URL, root: Path = ROOT) -> None:
    if "django" in sys.modules:  # this process's own connection would keep the database in use
        from django.db import connections

        connections.close_all()
    name = db_url.rsplit("/", 1)[1]
    admin = db_url.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=root, env=_env(db_url, root), check=True)


def _setup_django() -> None:
    os.environ.update(_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def generate(n: int) -> dict:
    """Write an n-entry log with a checkpoint every CHECKPOINT_EVERY entries; LOT_ENTRIES of them
    belong to one lot. Returns the lot and the check state LOG_INCREMENT entries before the end."""
    from django.db import connection

    from accounts.models import Organisation
    from audit.checkpoints import RECORD_ACTION, RECORD_OBJECT
    from audit.keys import note_signer
    from audit.log import entry_body_parts, entry_columns
    from common.actor import Actor
    from audit.models import AuditCheckpoint, AuditHead
    from audit.verify import frontier_rows
    from bidding.actions import _jsonable
    from bidding.models import Lot, Project
    from crypto import merkle
    from crypto.checkpoint import Checkpoint

    org = Organisation.objects.create(name="某某招标代理有限公司", kind="agency")
    project = Project.objects.create(code="BENCH-1", title="基准项目", tenderee=org, agency=org)
    start = datetime(2026, 11, 1, tzinfo=timezone.utc)
    lot = Lot.objects.create(project=project, code="01", title="施工", bid_deadline=start + timedelta(days=30),
                             signin_opens_at=start + timedelta(days=30), status="published")
    signer = note_signer()
    host = Actor(user_id=7, username="host1", role="host", organisation_id=org.pk,
                 organisation_name=org.name, ip="192.0.2.1")
    system = Actor.system("audit.checkpoint")
    lot_every = n // LOT_ENTRIES
    builder = merkle.TreeBuilder()
    tenders: dict[str, list[int]] = {}
    touched: set[str] = set()
    previous = None
    checkpoints = []
    state = None
    with connection.cursor() as cursor, cursor.connection.cursor().copy(
            "COPY audit_auditentry (\"index\", created_at, action, actor_id, actor_name, role, organisation_id, "
            "organisation_name, ip, object_type, object_id, tender_id, room, body, leaf_hash, nodes) "
            "FROM STDIN") as copy:
        for i in range(n):
            now = start + timedelta(milliseconds=i)
            if (i + 1) % CHECKPOINT_EVERY == 0 or i == n - 1:
                number = len(checkpoints) + 1
                data = {"number": number, "reason": "bench",
                        "previous": {"number": previous[0], "size": previous[1]} if previous else None,
                        "tenders": {t: {"count": tenders[t][0], "last": tenders[t][1]} for t in touched}}
                fields = dict(now=now, action=RECORD_ACTION, actor=system, object_type=RECORD_OBJECT,
                              object_id=str(number), tender_id=None, room="")
                touched = set()
            elif i % lot_every == 0 and tenders.get(str(lot.pk), [0])[0] < LOT_ENTRIES:
                action = "bidding.lot.created" if str(lot.pk) not in tenders else "bidding.bid.submitted"
                data = ({k: _jsonable(v) for k, v in lot.material_values().items()}
                        if action == "bidding.lot.created" else {"sha256": f"{i:064x}", "size": i})
                fields = dict(now=now, action=action, actor=host, object_type="bidding.lot",
                              object_id=str(lot.pk), tender_id=lot.pk, room="")
            else:
                tender = 1_000_000 + i % 50
                data = {"sha256": f"{i:064x}", "size": i}
                fields = dict(now=now, action="bench.entry.appended", actor=host, object_type="bench",
                              object_id=str(i), tender_id=tender, room="")
            prefix, suffix = entry_body_parts(data=data, **fields)
            body = f"{prefix}{i}{suffix}"
            leaf = merkle.leaf_hash(body.encode())
            nodes = builder.append(leaf)
            c = entry_columns(**fields)
            copy.write_row((i, c["created_at"], c["action"], c["actor_id"], c["actor_name"], c["role"],
                            c["organisation_id"], c["organisation_name"], c["ip"], c["object_type"],
                            c["object_id"], c["tender_id"], c["room"], body, leaf, b"".join(nodes)))
            if fields["tender_id"] is not None:
                key = str(fields["tender_id"])
                counted = tenders.setdefault(key, [0, -1])
                counted[0] += 1
                counted[1] = i
                touched.add(key)
            if fields["action"] == RECORD_ACTION:
                root = builder.root()
                note = signer.sign(Checkpoint(signer.name, builder.size, root).to_body())
                checkpoints.append(AuditCheckpoint(number=number, size=builder.size, root=root, note=note,
                                                   reason="bench", created_at=now))
                previous = (number, builder.size)
            if builder.size == n - INCREMENT:
                state = {"size": builder.size, "frontier": frontier_rows(builder), "record_number": len(checkpoints)}
    AuditCheckpoint.objects.bulk_create(checkpoints)
    AuditHead.objects.update_or_create(pk=1, defaults={"size": builder.size, "frontier": frontier_rows(builder),
                                                       "root": builder.root()})
    return {"lot": lot, "state": state, "lot_entries": tenders[str(lot.pk)][0], "checkpoints": len(checkpoints)}


def bench_check_and_archive(n: int) -> dict:
    _fresh_database()
    _setup_django()
    from audit.archive import export_archive
    from audit.integrity import check_increment
    from audit.keys import platform_vkey
    from audit.models import AuditCheckState
    from audit.verify import check_log
    from crypto.archive import verify_archive

    started = time.perf_counter()
    made = generate(n)
    generate_s = time.perf_counter() - started
    load = [round(x, 2) for x in os.getloadavg()]
    started = time.perf_counter()
    report = check_log()
    check_s = time.perf_counter() - started
    state = AuditCheckState(**made["state"])
    started = time.perf_counter()
    increment = check_increment(state, limit=INCREMENT)
    increment_s = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lot.zip"
        started = time.perf_counter()
        with open(path, "wb") as out:
            manifest = export_archive(out, lot=made["lot"])
        export_s = time.perf_counter() - started
        started = time.perf_counter()
        result = verify_archive(path, vkey=platform_vkey())
        verify_s = time.perf_counter() - started
        size_mib = path.stat().st_size / 2**20
    return {
        "entries": n, "generate_seconds": round(generate_s, 1), "load_before_check": load,
        "audit_check": {"seconds": round(check_s, 1), "ok": report.ok, "entries": report.entries,
                        "checkpoints": report.checkpoints, "problems": [p.message for p in report.problems[:3]]},
        "incremental_check": {"entries": INCREMENT, "ms": round(increment_s * 1000, 1), "ok": increment.ok,
                              "per_entry_us": round(increment_s / INCREMENT * 1e6, 1)},
        "lot_archive": {"entries": manifest["entries"], "checkpoints": made["checkpoints"],
                        "export_seconds": round(export_s, 2), "verify_seconds": round(verify_s, 2),
                        "mib": round(size_mib, 1), "verified": result.lines[-1]},
    }


APPEND_WITH_CHECKPOINTS = r"""
import resource, sys, threading, time, json
import django
django.setup()
from django.db import connections, transaction
from audit.checkpoints import issue_checkpoint
from audit.log import log_action
from common.actor import Actor
from audit.sequencer import sequencer, wait_until_sequenced
actor = Actor(username="bench", role="host", ip="192.0.2.1")
n, threads, every = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
per = n // threads
last = []
def work(t):
    for i in range(per):
        with transaction.atomic():
            row = log_action("bench.entry.appended", actor=actor, object_type="bench", object_id=i,
                             data={"t": t, "i": i, "price_fen": 123456789})
        if t == 0 and i % every == every - 1:
            issue_checkpoint("bench")  # as phase changes and receipts do, among the appends
    last.append(row.pk)
    connections.close_all()
print("ready", flush=True)
sys.stdin.readline()  # all writer processes begin together
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu_before = usage.ru_utime + usage.ru_stime  # after start-up: what the appends cost
start = time.perf_counter()
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
wait_until_sequenced(timeout=120, up_to=max(last))
seconds = time.perf_counter() - start
sequencer.stop()
usage = resource.getrusage(resource.RUSAGE_SELF)  # the writers' threads and the sequencer's
print(json.dumps({"entries": per * threads, "seconds": seconds,
                  "cpu_seconds": usage.ru_utime + usage.ru_stime - cpu_before,
                  "batches": sequencer.batches, "sequenced": sequencer.sequenced,
                  "skipped": getattr(sequencer, "skipped", 0)}))
"""


def _ticker_caught_up(db_url: str, timeout: float = 60.0) -> float | None:
    """Seconds until the ticker's console feed has reached the log's end (None: not within
    ``timeout``). Its incremental check is not waited for: it takes ``audit.integrity.BATCH``
    entries every ``AUDIT_CHECK_INTERVAL`` seconds, far behind any append run."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(db_url, autocommit=True) as conn:
        while time.perf_counter() - started < timeout:
            fed, size = conn.execute("SELECT (SELECT fed_up_to FROM audit_consolefeed WHERE id = 1), "
                                     "(SELECT size FROM audit_audithead WHERE id = 1)").fetchone()
            if size is not None and fed is not None and fed >= size - 1:
                return round(time.perf_counter() - started, 1)
            time.sleep(0.2)
    return None


def _append_run(anchors: dict | None, n: int = 4000, processes: int = 4, threads: int = 2, *,
                root: Path = ROOT, db_url: str = DB_URL, label: str = "") -> dict:
    """One append run. The writer processes start up, then all begin at one signal, so that no
    process's start-up shares the CPU with another's appends. CPU per entry: the writer processes
    (their threads and their sequencer), the ticker and the PostgreSQL backends of this database,
    over the appends' window — less noisy than the rate on a loaded machine."""
    from bench.common import BackendCpu, cpu_seconds

    extra = {} if anchors is None else anchors
    env = _env(db_url=db_url, root=root, **extra)
    ticker = subprocess.Popen([sys.executable, "manage.py", "ticker"], cwd=root, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        procs = [subprocess.Popen([sys.executable, "-c", APPEND_WITH_CHECKPOINTS, str(n // processes),
                                   str(threads), "200"], cwd=root, env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        for p in procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("an append process did not start")
        time.sleep(1)  # the ticker's own start-up is over too
        load = [round(x, 2) for x in os.getloadavg()]
        started = time.perf_counter()
        ticker_before = cpu_seconds(ticker.pid)
        with BackendCpu(db_url.rsplit("/", 1)[1]) as database:
            for p in procs:
                p.stdin.write("go\n")
                p.stdin.flush()
            rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
            window = {"ticker": cpu_seconds(ticker.pid) - ticker_before, "postgresql": database.seconds}
            caught_up = _ticker_caught_up(db_url)  # what the ticker still owes these entries
        ticker_cpu = cpu_seconds(ticker.pid) - ticker_before
        seconds = max(r["seconds"] for r in rows)
        total = sum(r["entries"] for r in rows)
        time.sleep(3)  # let the ticker push the last checkpoints
    finally:
        ticker.terminate()
        ticker.wait(30)
    writers = sum(r["cpu_seconds"] for r in rows)
    per_entry = lambda cpu: round(cpu / total * 1000, 3)  # noqa: E731
    row = {"anchors": anchors is not None, "entries": total, "per_second": round(total / seconds, 1),
           "wall_seconds": round(time.perf_counter() - started, 1), "load_before": load,
           # Until the ticker has fed every entry of the run to the console: the whole cost.
           "cpu_ms_per_entry": {"total": per_entry(writers + ticker_cpu + database.seconds),
                                "writers": per_entry(writers), "postgresql": per_entry(database.seconds),
                                "ticker": per_entry(ticker_cpu)},
           "ticker_caught_up_seconds": caught_up,
           # Within the appends' window only (the rate's window).
           "window_cpu_ms_per_entry": {"total": per_entry(writers + window["ticker"] + window["postgresql"]),
                                       "ticker": per_entry(window["ticker"]),
                                       "postgresql": per_entry(window["postgresql"])},
           # What the writers' own sequencer threads did (checkpoints and the ticker sequence the rest).
           "sequencer_wakeups": sum(r["batches"] for r in rows), "sequencer_skipped": sum(r["skipped"] for r in rows),
           "sequenced": sum(r["sequenced"] for r in rows)}
    if label:
        row["code"] = label
    return row


def bench_append_with_anchors() -> dict:
    _fresh_database()
    _setup_django()
    from audit.models import AuditCheckpoint, AuditCosignature, AuditTimestamp
    from audit.keys import platform_vkey
    from tests.tsa import LocalTSA

    tsa = LocalTSA()
    with tempfile.TemporaryDirectory() as tmp:
        key = Path(tmp) / "w.pem"
        from crypto import signing

        key.write_bytes(signing.signing_key_to_pem(signing.generate_signing_key(), None))
        (Path(tmp) / "roots.pem").write_bytes(tsa.root_pem)
        witness = subprocess.Popen([sys.executable, "-m", "witness.server", "serve", "--name", "bench/w1",
                                    "--key", str(key), "--state", str(Path(tmp) / "w.json"), "--log",
                                    platform_vkey(), "--port", "0"], cwd=ROOT, env=_env(),
                                   stdout=subprocess.PIPE, text=True)
        line = witness.stdout.readline()
        vkey, url = line.split(" ")[1], line.split(" listening on ")[1].strip().rstrip("/")
        anchors = {"AUDIT_WITNESSES": f"{vkey} {url}", "AUDIT_WITNESS_QUORUM": "1",
                   "AUDIT_TSA_URL": tsa.url, "AUDIT_TSA_ROOTS": str(Path(tmp) / "roots.pem")}
        try:
            runs = [_append_run(None), _append_run(anchors), _append_run(anchors), _append_run(None)]
        finally:
            witness.terminate()
            witness.wait(10)
            tsa.close()
    best = {kind: max(r["per_second"] for r in runs if r["anchors"] == kind) for kind in (False, True)}
    return {"runs": runs, "off_per_second": best[False], "on_per_second": best[True],
            "ratio": round(best[True] / best[False], 2),
            "checkpoints": AuditCheckpoint.objects.count(),
            "cosigned": AuditCosignature.objects.values("checkpoint").distinct().count(),
            "timestamped": AuditTimestamp.objects.count()}


SWEEP_MS = (10, 25, 50)


def bench_interval_sweep(rounds: int = 2) -> dict:
    """The sequencer's batch interval (``AUDIT_SEQUENCER_INTERVAL_MS``), anchors off, each value run
    ``rounds`` times interleaved so that the values share the machine's load: fewer, larger batches
    cost less per entry (one head lock, one commit, one function call each) but add to the lag."""
    _fresh_database()
    runs = []
    for _ in range(rounds):
        for ms in SWEEP_MS:
            row = _append_run({"AUDIT_SEQUENCER_INTERVAL_MS": str(ms)})
            row["anchors"], row["interval_ms"] = False, ms
            runs.append(row)
    best = {ms: max(r["per_second"] for r in runs if r["interval_ms"] == ms) for ms in SWEEP_MS}
    return {"runs": runs, "best_per_second": best}


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {"check_and_archive": bench_check_and_archive(ENTRIES),
              "goals": {"audit_check_1m_seconds": 60, "lot_10k_export_seconds": 5,
                        "lot_10k_verify_seconds": 5, "append_per_second_with_anchors": 2000}}
    save = lambda: (RESULTS / "proofs.json").write_text(json.dumps(result, indent=2, default=str) + "\n")  # noqa: E731
    save()
    if not os.environ.get("BENCH_SKIP_APPEND"):
        result["append_with_anchors"] = bench_append_with_anchors()
        save()
        result["sequencer_interval"] = bench_interval_sweep()
        save()
    c = result["check_and_archive"]
    print(f"audit_check over {c['entries']:,} entries: {c['audit_check']['seconds']} s, ok={c['audit_check']['ok']} "
          f"(goal <= 60 s; load {c['load_before_check'][0]})")
    print(f"ticker's incremental check: {c['incremental_check']['entries']} entries in "
          f"{c['incremental_check']['ms']} ms ({c['incremental_check']['per_entry_us']} us/entry)")
    a = c["lot_archive"]
    print(f"lot archive of {a['entries']:,} entries ({a['mib']} MiB): export {a['export_seconds']} s, "
          f"offline verification {a['verify_seconds']} s (goal <= 5 s each)")
    if "append_with_anchors" in result:
        w = result["append_with_anchors"]
        print(f"append, 4 x 2 writers, a checkpoint every 200 entries per process, the ticker running: "
              f"anchors off {w['off_per_second']:.0f}/s, witness + TSA on {w['on_per_second']:.0f}/s "
              f"(x{w['ratio']}); {w['cosigned']} of {w['checkpoints']} checkpoints cosigned, "
              f"{w['timestamped']} timestamped")
    if "sequencer_interval" in result:
        best = result["sequencer_interval"]["best_per_second"]
        print("sequencer interval, anchors off, best of two: "
              + ", ".join(f"{ms} ms {rate:.0f}/s" for ms, rate in best.items()))
    return result


if __name__ == "__main__":
    main()
