"""The append run of ``bench_proofs`` (4 × 2 writers, the ticker running, a checkpoint every 200
entries per process), this tree against a baseline tree, interleaved in one run so that both share
the machine's load (issue 12: the goal is ≥ 2,000 entries/s with a witness and a TSA on).

Run: ``BENCH_BASELINE_ROOT=/path/to/an/older/checkout python -m bench.bench_append_ab`` (e.g.
``git archive <commit> | tar -x -C /tmp/base``). Each tree runs with its own code on its own freshly
migrated database (``BENCH_DATABASE_URL``, and the same name with ``_base``) and its own witness;
they share the TSA. Runs go baseline/current alternately, anchors off then on, ``BENCH_AB_ROUNDS``
times (default 2). The figures to read are the ratios and the CPU milliseconds per entry (writers
with their sequencer threads, the ticker, the PostgreSQL backends of the run's database): the rate
moves with whatever else the machine runs. Saved as ``append_against_baseline`` in
``bench/results/proofs.json``; earlier sittings move to ``append_against_baseline_earlier``.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.bench_proofs import DB_URL, RESULTS, ROOT, _append_run, _env, _fresh_database

BASE_URL = DB_URL + "_base"


def _witness(tmp: Path, name: str, vkey_of_log: str, root: Path, db_url: str) -> tuple[subprocess.Popen, str]:
    from crypto import signing

    key = tmp / f"{name}.pem"
    key.write_bytes(signing.signing_key_to_pem(signing.generate_signing_key(), None))
    proc = subprocess.Popen([sys.executable, "-m", "witness.server", "serve", "--name", f"bench/{name}",
                             "--key", str(key), "--state", str(tmp / f"{name}.json"), "--log", vkey_of_log,
                             "--port", "0"], cwd=root, env=_env(db_url, root), stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    vkey, url = line.split(" ")[1], line.split(" listening on ")[1].strip().rstrip("/")
    return proc, f"{vkey} {url}"


def _anchored(db_url: str) -> dict:
    sql = ("SELECT (SELECT count(*) FROM audit_auditcheckpoint), "
           "(SELECT count(DISTINCT checkpoint_id) FROM audit_auditcosignature), "
           "(SELECT count(*) FROM audit_audittimestamp), (SELECT count(*) FROM audit_auditpending), "
           "(SELECT size FROM audit_audithead)")
    out = subprocess.run(["psql", db_url, "-Atc", sql], capture_output=True, text=True, check=True).stdout
    checkpoints, cosigned, timestamped, pending, size = (int(x or 0) for x in out.strip().split("|"))
    return {"checkpoints": checkpoints, "cosigned": cosigned, "timestamped": timestamped,
            "pending_left": pending, "entries": size}


def _summary(runs: list[dict]) -> dict:
    return {"best_per_second": max(r["per_second"] for r in runs),
            "median_per_second": round(statistics.median(r["per_second"] for r in runs), 1),
            "median_cpu_ms_per_entry": {k: round(statistics.median(r["cpu_ms_per_entry"][k] for r in runs), 3)
                                        for k in runs[0]["cpu_ms_per_entry"]}}


def main() -> dict:
    base_root = Path(os.environ["BENCH_BASELINE_ROOT"]).resolve()
    rounds = int(os.environ.get("BENCH_AB_ROUNDS", "2"))
    trees = {"baseline": (base_root, BASE_URL), "current": (ROOT, DB_URL)}
    for root, url in trees.values():
        _fresh_database(url, root)
    os.environ.update(_env())
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from audit.keys import platform_vkey
    from tests.tsa import LocalTSA

    tsa = LocalTSA()
    runs, witnesses = [], []
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "roots.pem").write_bytes(tsa.root_pem)
        anchors = {}
        for label, (root, url) in trees.items():
            proc, witness = _witness(Path(tmp), label, platform_vkey(), root, url)
            witnesses.append(proc)
            anchors[label] = {"AUDIT_WITNESSES": witness, "AUDIT_WITNESS_QUORUM": "1", "AUDIT_TSA_URL": tsa.url,
                              "AUDIT_TSA_ROOTS": str(Path(tmp) / "roots.pem")}
        try:
            for r in range(rounds):
                order = ["baseline", "current"] if r % 2 == 0 else ["current", "baseline"]
                for on in (False, True):
                    for label in order:
                        root, url = trees[label]
                        row = _append_run(anchors[label] if on else None, root=root, db_url=url, label=label)
                        print(json.dumps(row), flush=True)
                        runs.append(row)
        finally:
            for proc in witnesses:
                proc.terminate()
                proc.wait(10)
            tsa.close()
    result = {"rounds": rounds, "baseline_root": str(base_root), "runs": runs}
    for label, (root, url) in trees.items():
        result[label] = {kind: _summary([r for r in runs if r["code"] == label and r["anchors"] == on])
                         for kind, on in (("off", False), ("on", True))}
        result[label]["database"] = _anchored(url)
    result["ratio_on_current_to_baseline"] = round(
        result["current"]["on"]["median_per_second"] / result["baseline"]["on"]["median_per_second"], 2)
    path = RESULTS / "proofs.json"
    saved = json.loads(path.read_text()) if path.exists() else {}
    if "append_against_baseline" in saved:  # earlier sittings are kept, newest first
        saved["append_against_baseline_earlier"] = ([saved["append_against_baseline"]]
                                                    + saved.get("append_against_baseline_earlier", []))
    saved["append_against_baseline"] = result
    path.write_text(json.dumps(saved, indent=2, default=str) + "\n")
    for label in trees:
        for kind in ("off", "on"):
            s = result[label][kind]
            print(f"{label:8s} anchors {kind:3s}: median {s['median_per_second']:.0f}/s (best {s['best_per_second']:.0f}), "
                  f"CPU ms/entry {s['median_cpu_ms_per_entry']}")
    print(f"anchors on, current/baseline: x{result['ratio_on_current_to_baseline']}")
    return result


if __name__ == "__main__":
    main()
