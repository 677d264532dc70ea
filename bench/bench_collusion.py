"""Collusion analysis benchmark (issue 15).

(a) One tender: 30 bidders, each with a technical bid of 300 pages (docx, ~1,500 characters a page,
    written by independent random writers over a shared trade vocabulary, the tender's boilerplate
    copied into each) and a priced bill (xlsx); three of them riggers (a lightly paraphrased copy
    of one text, a shared template and image, regular prices). Timed: reading every document
    (``collusion.signals.extract``) and every signal (``collusion.signals.run.analyse``), as the
    app does after decryption, in a fresh process whose peak RSS is reported. Goal: ≤ 60 s, memory
    bounded. Documents are generated into memory by this script (never committed).
(b) Across tenders: the co-bidding graph over 10,000 tenders of 5–12 bidders each from 3,000
    companies, five rings planted (``collusion.signals.graph.co_bidding``). Goal: ≤ 10 s.
Run: ``nice -n 10 python -m bench.bench_collusion``; figures in bench/results/collusion.json.

Where the wall time goes: besides the process's CPU time, the kernel's scheduler statistics of the
process (``/proc/self/schedstat``: time on a CPU, time runnable but waiting for one) and its
voluntary and involuntary context switches. Wall ≈ on CPU + waiting for a CPU + blocked: a
loaded machine shows up as waiting for a CPU (involuntary switches), a process that waits for
something — a subprocess, the disk, a lock — as blocked (voluntary switches).
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import PY, ROOT, loadavg, save

BIDDERS, PAGES, CHARS_PER_PAGE = 30, 300, 1500
TENDERS, COMPANIES = 10_000, 3_000


def _text(seed: int, chars: int) -> list[str]:
    from tests.collusion.corpus import CHARS, PHRASES

    rng = random.Random(seed)
    paragraphs, total = [], 0
    while total < chars:
        parts = []
        for _ in range(rng.randint(12, 20)):
            parts.append(rng.choice(PHRASES) if rng.random() < 0.25 else "".join(rng.choices(CHARS, k=rng.randint(4, 9))))
        p = "，".join(parts) + "。"
        paragraphs.append(p)
        total += len(p)
    return paragraphs


def _sched() -> dict:
    """On-CPU and run-queue-wait seconds (all threads), context switches, so far."""
    import os

    on = wait = 0
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
        except OSError:
            continue
        on, wait = on + int(fields[0]), wait + int(fields[1])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"on_cpu": on / 1e9, "waiting": wait / 1e9, "voluntary": usage.ru_nvcsw, "involuntary": usage.ru_nivcsw}


def _where_time_went(before: dict, after: dict, wall: float) -> dict:
    on, waiting = after["on_cpu"] - before["on_cpu"], after["waiting"] - before["waiting"]
    return {"wall_s": round(wall, 2), "on_cpu_s": round(on, 2), "waiting_for_cpu_s": round(waiting, 2),
            "blocked_s": round(max(0.0, wall - on - waiting), 2), "cpu_share": round(on / wall, 3) if wall else None,
            "voluntary_switches": after["voluntary"] - before["voluntary"],
            "involuntary_switches": after["involuntary"] - before["involuntary"]}


def analysis_child() -> None:
    """In a fresh process: generate, then time reading and analysing."""
    from tests.collusion import corpus

    from collusion.signals.extract import read_document
    from collusion.signals.identity import BidderIdentity, Observation
    from collusion.signals.run import TenderFacts, analyse

    chars = PAGES * CHARS_PER_PAGE
    master = _text(7, chars)
    files: dict[str, dict[str, bytes]] = {}
    shared_image = corpus.png(77)
    for n in range(BIDDERS):
        key = f"b{n:02d}"
        if n == 1:
            text = corpus.paraphrase(master, 8)
        elif n == 0:
            text = master
        else:
            text = _text(1000 + n, chars)
        images = [shared_image] if n in (0, 2) else [corpus.png(300 + n)]
        files[key] = {
            f"{key}-技术标.docx": corpus.docx(corpus.TENDER_BOILERPLATE + text, author=f"作者{n}" if n > 2 else "张工",
                                           modified_by=f"作者{n}" if n > 2 else "张工", images=images,
                                           template="围标模板.dotx" if n in (0, 2) else "Normal.dotm"),
            f"{key}-报价.xlsx": corpus.xlsx([("分部分项工程", 100_000_000 + n * 123_456)], author="招标代理",
                                         modified_by=f"作者{n}")}
    tender = {"tender.docx": corpus.docx(corpus.TENDER_BOILERPLATE, author="招标代理", modified_by="招标代理")}
    total_bytes = sum(len(d) for fs in files.values() for d in fs.values())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load_before = loadavg()
    cpu0 = time.process_time()
    s0 = _sched()
    t0 = time.perf_counter()
    documents = {}
    for key in list(files):
        documents[key] = [read_document(name, data) for name, data in files[key].items()]
        del files[key]  # as the app does: the bytes go, the facts stay
    t_read = time.perf_counter() - t0
    s1 = _sched()
    rng = random.Random(5)
    facts = TenderFacts(
        bidders=[BidderIdentity(k, f"公司{k}", "") for k in documents], documents=documents,
        tender_documents=[read_document(n, d) for n, d in tender.items()],
        observations=[Observation(k, "ip", f"203.0.113.{i}", "upload") for i, k in enumerate(documents)],
        prices={k: 100_000_000 + i * 123_456 if i < 3 else rng.randint(90_000_000, 120_000_000)
                for i, k in enumerate(documents)})
    t1 = time.perf_counter()
    leads = analyse(facts)
    t_analyse = time.perf_counter() - t1
    s2 = _sched()
    cpu = time.process_time() - cpu0
    print(json.dumps({
        "bidders": BIDDERS, "pages_per_bid": PAGES, "chars_per_bid": sum(len(d.text) for d in documents["b05"]),
        "document_bytes": total_bytes, "read_s": round(t_read, 2), "analyse_s": round(t_analyse, 2),
        "total_s": round(t_read + t_analyse, 2), "cpu_s": round(cpu, 2),
        "reading": _where_time_went(s0, s1, t_read), "analysis": _where_time_went(s1, s2, t_analyse),
        "load_before": load_before, "load_after": loadavg(), "nice": __import__("os").nice(0),
        "peak_rss_mib_before": round(rss_before / 1024, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "leads": sorted({(x.signal.value, ",".join(x.bidders)) for x in leads})}, ensure_ascii=False))


def graph_bench() -> dict:
    from collusion.signals.graph import TenderOutcome, co_bidding

    rng = random.Random(11)
    companies = [f"c{n}" for n in range(COMPANIES)]
    rings = [[f"ring{r}-{m}" for m in range(3 + r % 2)] for r in range(5)]
    tenders = []
    for n in range(TENDERS):
        if n % 100 < 5:  # 5 % of the tenders: one ring with a few outsiders, its first member winning
            ring = rings[n % 5]
            bidders = set(ring) | set(rng.sample(companies, rng.randint(2, 6)))
            winner = ring[0]
        else:
            bidders = set(rng.sample(companies, rng.randint(5, 12)))
            winner = rng.choice(sorted(bidders))
        tenders.append(TenderOutcome(f"t{n}", frozenset(bidders), winner))
    t0, c0 = time.perf_counter(), time.process_time()
    leads = co_bidding(tenders)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    found = sorted(",".join(x.bidders) for x in leads)
    planted = sorted(",".join(sorted(r)) for r in rings)
    return {"tenders": TENDERS, "companies": COMPANIES, "seconds": round(seconds, 2), "cpu_s": round(cpu, 2), "leads": len(leads),
            "planted_found": sum(p in found for p in planted), "planted": len(planted),
            "other_leads": [f for f in found if f not in planted][:20]}


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        analysis_child()
        return
    started = time.time()
    done = subprocess.run([PY, "-m", "bench.bench_collusion", "--child"], cwd=ROOT, capture_output=True,
                          text=True, timeout=1800)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    tender = json.loads(done.stdout.strip().splitlines()[-1])
    graph = graph_bench()
    result = {"tender": tender, "graph": graph, "goals": {"tender_s": 60, "graph_s": 10},
              "met": {"tender": tender["total_s"] <= 60, "graph": graph["seconds"] <= 10},
              "load": loadavg(), "wall_s": round(time.time() - started, 1)}
    save("collusion", result)
    print(json.dumps(result, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
