"""Audit log benchmarks: append rate on PostgreSQL (proofs available for every entry), and the time
to verify an archive of 1,000,000 entries offline. Goals (issue 6): ≥ 2,000 entries/s; ≤ 30 s.

Run: ``python -m bench.bench_audit`` (``make bench`` runs every bench). Needs PostgreSQL at
``BENCH_DATABASE_URL`` (default postgres://postgres@127.0.0.1:5432/kaibiao_bench, created here).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kaibiao_bench")

APPEND_SCRIPT = r"""
import os, sys, threading, time, json
import django
django.setup()
from django.db import connections, transaction
from audit.log import Actor, log_action
from audit.models import AuditEntry
from audit.tree import inclusion_proof
actor = Actor(username="bench", role="host", ip="192.0.2.1")
n, threads = int(sys.argv[1]), int(sys.argv[2])
report = len(sys.argv) > 3
per = n // threads
def work(t):
    for i in range(per):
        with transaction.atomic():
            log_action("bench.entry.appended", actor=actor, object_type="bench", object_id=i,
                       data={"t": t, "i": i, "price_fen": 123456789})
    connections.close_all()
start = time.perf_counter()
ts = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
[t.start() for t in ts]; [t.join() for t in ts]
elapsed = time.perf_counter() - start
size = AuditEntry.objects.count()
t0 = time.perf_counter(); proof = inclusion_proof(size // 2, size); proof_ms = (time.perf_counter() - t0) * 1000
print(json.dumps({"entries": per * threads, "seconds": elapsed, "proof_ms": proof_ms}))
"""


def _env() -> dict:
    env = dict(os.environ, DATABASE_URL=DB_URL, DJANGO_SETTINGS_MODULE="config.settings",
               PYTHONPATH=str(ROOT))
    env.pop("REDIS_URL", None)
    return env


def bench_append(n: int = 4000) -> list[dict]:
    name = DB_URL.rsplit("/", 1)[1]
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=_env(), check=True)
    out = []
    # Worker processes, as deployed (Daphne workers are processes), each with a few threads.
    for processes, threads in ((1, 1), (2, 1), (2, 4), (4, 2)):
        started = time.perf_counter()
        procs = [subprocess.Popen([sys.executable, "-c", APPEND_SCRIPT, str(n // processes), str(threads)],
                                  cwd=ROOT, env=_env(), stdout=subprocess.PIPE, text=True)
                 for _ in range(processes)]
        rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
        elapsed = time.perf_counter() - started  # includes interpreter start-up: a lower bound
        busy = max(r["seconds"] for r in rows)
        total = sum(r["entries"] for r in rows)
        out.append({"processes": processes, "threads": threads, "entries": total,
                    "seconds": round(busy, 2), "per_second": total / busy,
                    "wall_seconds_with_startup": round(elapsed, 2),
                    "proof_ms": max(r["proof_ms"] for r in rows)})
    return out


def bench_verify(n: int = 1_000_000) -> dict:
    sys.path.insert(0, str(ROOT))
    import zipfile

    from crypto import archive as fmt
    from crypto import merkle, signing
    from crypto.checkpoint import Checkpoint, NoteSigner

    signer = NoteSigner("bench.local/audit", signing.generate_signing_key())
    builder = merkle.TreeBuilder()
    leaves: list[bytes] = []
    checkpoints = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "archive.zip"
        started = time.perf_counter()
        hashes = {}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            import hashlib

            digest = hashlib.sha256()
            with zf.open(fmt.ENTRIES, "w", force_zip64=True) as entries:
                for i in range(n):
                    body = fmt.canonical_json({
                        "v": 1, "index": i, "time": "2026-11-25T01:00:00.000000Z",
                        "action": "bidding.bid.submitted",
                        "actor": {"id": i % 977, "username": f"user{i % 977}", "role": "bidder",
                                  "org": i % 500, "org_name": "某某建设有限公司"},
                        "ip": "192.0.2.1", "object": {"type": "bidding.submission", "id": str(i)},
                        "tender": i % 50, "room": "", "data": {"sha256": f"{i:064x}", "size": i}})
                    line = (fmt.canonical_json({"index": i, "body": body}) + "\n").encode()
                    entries.write(line)
                    digest.update(line)
                    leaf = merkle.leaf_hash(body.encode())
                    builder.append(leaf)
                    leaves.append(leaf)
                    if (i + 1) % 250_000 == 0:
                        checkpoints.append((builder.size, builder.root()))
            hashes[fmt.ENTRIES] = digest.hexdigest()
            notes = "".join(fmt.canonical_json({"note": signer.sign(
                Checkpoint("bench.local/audit", size, root).to_body())}) + "\n" for size, root in checkpoints)
            zf.writestr(fmt.CHECKPOINTS, notes)
            hashes[fmt.CHECKPOINTS] = hashlib.sha256(notes.encode()).hexdigest()
            tree = merkle.MemoryTree(leaves)
            proofs = "".join(fmt.canonical_json({
                "from": a, "to": b, "proof": [h.hex() for h in merkle.consistency_proof(a, b, tree)]}) + "\n"
                for (a, _), (b, _) in zip(checkpoints, checkpoints[1:]))
            zf.writestr(fmt.CONSISTENCY, proofs)
            hashes[fmt.CONSISTENCY] = hashlib.sha256(proofs.encode()).hexdigest()
            del tree, leaves
            zf.writestr(fmt.MANIFEST, fmt.canonical_json({
                "format": fmt.FORMAT, "origin": "bench.local/audit", "vkey": signer.vkey,
                "scope": {"kind": "log"}, "files": hashes}))
        build_s = time.perf_counter() - started
        size_mb = path.stat().st_size / 2**20
        started = time.perf_counter()
        try:
            fmt.verify_archive(path, vkey=signer.vkey)
            verified, error = True, ""
        except fmt.ArchiveError as exc:
            verified, error = False, str(exc)
        verify_s = time.perf_counter() - started
    return {"entries": n, "archive_mib": round(size_mb, 1), "build_seconds": round(build_s, 1),
            "verify_seconds": round(verify_s, 2), "verified": verified, "error": error}


def main() -> dict:
    RESULTS.mkdir(parents=True, exist_ok=True)
    if os.environ.get("BENCH_SKIP_APPEND"):
        append = []
    else:
        append = bench_append()
    verify = bench_verify()
    result = {"append_postgresql": append, "verify_archive": verify,
              "goals": {"append_per_second": 2000, "verify_seconds_1m": 30}}
    (RESULTS / "audit.json").write_text(json.dumps(result, indent=2) + "\n")
    print("audit log append on PostgreSQL (each entry its own transaction, proofs available):")
    for row in append:
        print(f"  {row['processes']} processes x {row['threads']} threads: {row['per_second']:7.0f} entries/s "
              f"({row['entries']} in {row['seconds']:.1f} s); inclusion proof {row['proof_ms']:.1f} ms")
    print(f"offline verification of {verify['entries']:,} entries ({verify['archive_mib']} MiB): "
          f"{verify['verify_seconds']} s, verified={verify['verified']} {verify['error']}")
    return result


if __name__ == "__main__":
    main()
