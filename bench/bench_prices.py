"""Price rules and 清标 benchmark (issue 13).

(a) Scoring 200 bidders under every price rule (evaluation.rules.price.score_with_rule, exact
    Fractions): the median and the worst of 30 runs per rule. Goal: ≤ 50 ms per rule.
(b) 清标 of 20 priced bills of 5,000 lines each (generated into a temporary directory, removed
    afterwards; never committed), each read with python-calamine and checked against
    the tender's bill. Goal: ≤ 10 s for the 20. Reported beside it, in the same run: openpyxl merely
    iterating the same rows, so the ratio says what the checks add.
(c) Memory: one bill of 1,000 / 5,000 / 20,000 lines checked in a fresh process each; peak Python
    allocations (tracemalloc) of the check alone, with the tender's index built beforehand, and the
    process's peak RSS. Goal: flat in the number of lines (the index of the tender's bill is the
    only thing that grows, and it is measured apart).
Run: ``python -m bench.bench_prices``; figures in bench/results/prices.json.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from bench.common import PY, ROOT, loadavg, save

BIDDERS, RUNS = 200, 30
BILLS, LINES = 20, 5000
WAN = 1_000_000

RULES = {
    "f87_lowest_ratio": {"benchmark": {"kind": "lowest"}, "score": {"kind": "ratio"}},
    "mean_linear_k": {"benchmark": {"kind": "mean", "trim": [{"from": 5, "high": 1, "low": 0}, {"from": 7, "high": 1, "low": 1}],
                                    "k": {"min": "-5", "max": "5"}},
                      "score": {"kind": "deviation", "deduction": "linear", "above": "1", "below": "0.5"}},
    "mean_stepped": {"benchmark": {"kind": "mean", "trim": [{"from": 7, "high": 2, "low": 2}]},
                     "score": {"kind": "deviation", "deduction": "stepped", "above": "2", "below": "1", "floor": "10"}},
    "mean_ignored_rounded_deviation": {
        "benchmark": {"kind": "mean"},
        "score": {"kind": "deviation", "deduction": "ignored", "step": "0.5", "above": "1", "below": "1",
                  "deviation_rounding": {"mode": "ROUND_HALF_UP", "decimals": 2}}},
    "mean_interpolated_bands": {
        "benchmark": {"kind": "mean", "trim": [{"from": 5, "high": 1, "low": 1}]},
        "score": {"kind": "deviation", "deduction": "interpolated",
                  "above_bands": [{"upto": "5", "rate": "1"}, {"upto": "20", "rate": "2"}, {"rate": "0"}],
                  "below_bands": [{"upto": "3", "rate": "0.5"}, {"rate": "1"}]}},
    "composite_ceiling": {"benchmark": {"kind": "composite", "trim": [{"from": 7, "high": 1, "low": 1}],
                                        "ceiling_weight": "0.3", "mean_weight": "0.7", "ceiling_discount": "5",
                                        "k": {"min": "-3", "max": "0"}},
                          "score": {"kind": "deviation", "above": "1", "below": "0.5"}, "ceiling_fen": 200 * WAN},
}


def bench_rules() -> dict:
    import random

    from evaluation.rules import sme
    from evaluation.rules.numbers import Rounding
    from evaluation.rules.price import score_with_rule
    from evaluation.rules.price_rule import parse_price_rule

    rnd = random.Random(13)
    prices = {f"B{i:03d}": rnd.randint(80 * WAN, 200 * WAN) for i in range(BIDDERS)}
    sme_rule = sme.parse_sme_rule({"project": "goods_services", "small_micro": "15", "consortium": "5"})
    decls = {b: sme.parse_declaration({"kind": "small_micro", "statement_sha256": "ab" * 32})
             for b in list(prices)[::3]}
    out = {}
    cases = [(name, raw, False) for name, raw in RULES.items()] + [("f87_lowest_ratio_with_sme", RULES["f87_lowest_ratio"], True)]
    for name, raw, with_sme in cases:
        rule = parse_price_rule(raw)
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            scored = sme.apply(sme_rule, prices, decls).evaluated if with_sme else prices
            score_with_rule(rule, scored, full_marks=30, rounding=Rounding("ROUND_HALF_UP", 2), k=Fraction(-1))
            times.append((time.perf_counter() - start) * 1000)
        out[name] = {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}
    return out


def bench_bills(workdir: Path) -> dict:
    from evaluation.bill_reader import _open, check_bill, read_tender_bill
    from evaluation.rules.bills import parse_layout
    from evaluation.testing_bills import LAYOUT, priced, tender_bill, to_xlsx

    layout = parse_layout(LAYOUT)
    tender = tender_bill(LINES, sections=10, seed=1)
    (workdir / "tender.xlsx").write_bytes(to_xlsx(tender, with_prices=False))
    announced = []
    for n in range(BILLS):
        bill = priced(tender, seed=100 + n)
        (workdir / f"bill{n:02d}.xlsx").write_bytes(to_xlsx(bill))
        announced.append(bill.price_fen)
    start = time.perf_counter()
    index = read_tender_bill((workdir / "tender.xlsx").read_bytes(), layout)
    index_s = time.perf_counter() - start
    start = time.perf_counter()
    findings = 0
    for n in range(BILLS):
        report = check_bill((workdir / f"bill{n:02d}.xlsx").read_bytes(), layout, index, announced_fen=announced[n])
        findings += sum(report["counts"].values())
    check_s = time.perf_counter() - start
    start = time.perf_counter()
    for n in range(BILLS):
        book = _open((workdir / f"bill{n:02d}.xlsx").read_bytes())
        for _ in book.get_sheet_by_name("清单").iter_rows():
            pass
        book.close()
    iterate_s = time.perf_counter() - start
    from openpyxl import load_workbook  # the reader 清标 used before: the same bills, in the same run

    start = time.perf_counter()
    for n in range(BILLS):
        book = load_workbook(workdir / f"bill{n:02d}.xlsx", read_only=True, data_only=True)
        for _ in book["清单"].iter_rows(values_only=True, max_col=6):
            pass
        book.close()
    openpyxl_s = time.perf_counter() - start
    return {"bills": BILLS, "lines": LINES, "tender_index_s": round(index_s, 2), "check_all_s": round(check_s, 2),
            "calamine_iterate_only_s": round(iterate_s, 2), "ratio_check_to_iterate": round(check_s / iterate_s, 2),
            "openpyxl_iterate_only_s": round(openpyxl_s, 2),
            "ratio_openpyxl_iterate_to_check": round(openpyxl_s / check_s, 2), "findings_in_clean_bills": findings}


MEMORY = r"""
import json, sys, tracemalloc, resource
from pathlib import Path
from evaluation.bill_reader import check_bill, read_tender_bill
from evaluation.rules.bills import parse_layout
from evaluation.testing_bills import LAYOUT, priced, tender_bill, to_xlsx
lines = int(sys.argv[1]); work = Path(sys.argv[2])
layout = parse_layout(LAYOUT)
tender = tender_bill(lines, sections=10, seed=1)
bill = priced(tender, seed=5)
(work / f"t{lines}.xlsx").write_bytes(to_xlsx(tender, with_prices=False))
(work / f"b{lines}.xlsx").write_bytes(to_xlsx(bill))
del tender
tracemalloc.start()
index = read_tender_bill((work / f"t{lines}.xlsx").read_bytes(), layout)
index_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
data = (work / f"b{lines}.xlsx").read_bytes()
tracemalloc.start()
report = check_bill(data, layout, index, announced_fen=bill.price_fen)
check_peak = tracemalloc.get_traced_memory()[1]
tracemalloc.stop()
print(json.dumps({"lines": lines, "xlsx_bytes": len(data), "index_peak_kib": index_peak // 1024,
                  "check_peak_kib": check_peak // 1024,
                  "process_max_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
"""


def bench_memory(workdir: Path) -> list[dict]:
    rows = []
    for lines in (1000, 5000, 20000):
        done = subprocess.run([PY, "-c", MEMORY, str(lines), str(workdir)], capture_output=True, text=True,
                              cwd=ROOT, check=True, env={"PYTHONPATH": str(ROOT), "DJANGO_SETTINGS_MODULE": "config.settings"})
        rows.append(json.loads(done.stdout))
    return rows


def run() -> dict:
    sys.path.insert(0, str(ROOT))
    figures = {"load_before": loadavg(), "rules_200_bidders": bench_rules()}
    with tempfile.TemporaryDirectory(prefix="kaibiao-bills-") as tmp:
        figures["qingbiao"] = bench_bills(Path(tmp))
        figures["memory"] = bench_memory(Path(tmp))
    figures["load_after"] = loadavg()
    figures["goals"] = {"rule_ms": 50, "qingbiao_s": 10}
    save("prices", figures)
    print(json.dumps(figures, indent=1, ensure_ascii=False))
    return figures


if __name__ == "__main__":
    run()
