"""The price part of the report's PDF (and of the venue page's price panel): for each price score the
price scored, the benchmark, the deviation (exact and as rounded), the points deducted, the exact
score and the rounded one, with the rule and the rounding in words, so that an expert can check it
by hand; and the price review (ceiling, SME deductions, abnormally low prices, 清标 and corrections).
Built from the report's JSON only."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from .rules.exact import approx_text, round_exact

MODES = {"ROUND_HALF_UP": "四舍五入", "ROUND_HALF_EVEN": "四舍六入五成双", "ROUND_HALF_DOWN": "五舍六入",
         "ROUND_DOWN": "截尾（向零）", "ROUND_UP": "进位（远离零）", "ROUND_FLOOR": "向下取整", "ROUND_CEILING": "向上取整"}
BENCHMARKS = {"lowest": "满足招标文件要求且价格最低的投标报价（财政部令第87号第五十五条）",
              "mean": "有效投标报价的算术平均值", "composite": "A × 最高投标限价 × (1 − 下浮率) + B × 有效投标报价的算术平均值"}
DEDUCTIONS = {"linear": "按比例（中间值按插入法）", "stepped": "不足一档按一档计", "ignored": "不足一档不计",
              "interpolated": "分段插值"}
REJECTIONS = {"above_ceiling": "超过最高投标限价（实施条例第五十一条）", "abnormally_low": "不能证明报价合理性（87号令第六十条）",
              "correction_declined": "不确认修正（评标委员会和评标方法暂行规定第十九条）"}


def yuan(fen: Any) -> str:
    """Fen (int or exact text) as yuan, to the fen; an inexact value is marked ≈."""
    if fen is None:
        return ""
    x = Fraction(fen)
    text = f"{round_exact(x / 100, 2, 'ROUND_HALF_UP'):,}"
    return text if x.denominator == 1 else f"≈{text}"


def _pair(p: dict | None, places: int = 4) -> str:
    if p is None:
        return ""
    x = Fraction(p["exact"])
    text = approx_text(x, places)
    return text if (x * 10 ** places).denominator == 1 else f"≈{text}"


def rule_text(rule: dict | None, rounding: dict | None) -> list[str]:
    if not rule:
        return []
    bench, score = rule["benchmark"], rule["score"]
    lines = [f"评标基准价：{BENCHMARKS[bench['kind']]}"]
    for row in bench.get("trim", []):
        lines.append(f"有效报价 {row['from']} 家及以上（至下一档）：去掉最高 {row['high']} 个、最低 {row['low']} 个报价")
    if bench.get("k"):
        lines.append(f"× (1 + K)，K 在 {bench['k']['min']}% 至 {bench['k']['max']}% 之间随机抽取")
    if bench["kind"] == "composite":
        lines.append(f"A = {bench['ceiling_weight']}，B = {bench['mean_weight']}，下浮率 {bench['ceiling_discount']}%")
    if rule.get("ceiling_fen") is not None:
        lines.append(f"最高投标限价：{yuan(rule['ceiling_fen'])} 元；高于者否决（实施条例第五十一条）")
    if score["kind"] == "ratio":
        lines.append("价格得分 = 评标基准价 / 评审价格 × 价格分值")
    else:
        lines.append(f"偏差率 d = (评审价格 − 评标基准价) / 评标基准价 × 100%；每偏离 {score['step']}% 扣分，"
                     f"{DEDUCTIONS[score['deduction']]}；最低 {score['floor']} 分")
        if score["deduction"] == "interpolated":
            for side, word in (("above", "高于"), ("below", "低于")):
                bands = "；".join(f"至 {b['upto']}% 每档 {b['rate']} 分" if b["upto"] else f"其后每档 {b['rate']} 分"
                                 for b in score[f"{side}_bands"])
                lines.append(f"{word}基准价：{bands}")
        else:
            lines.append(f"高于基准价每档扣 {score['above']} 分，低于基准价每档扣 {score['below']} 分")
        if score.get("deviation_rounding"):
            r = score["deviation_rounding"]
            lines.append(f"偏差率先保留 {r['decimals']} 位小数（{MODES[r['mode']]}）再计分")
    if rounding:
        lines.append(f"得分保留 {rounding['decimals']} 位小数（{MODES[rounding['mode']]}），只舍入一次")
    return lines


def price_context(report: dict) -> dict[str, Any]:
    summary = report.get("summary") or {}
    detail = (summary.get("price") or {}).get("detail") or {}
    names = {b["code"]: b["name"] for b in report["bidders"]}
    rows = [{"bidder": b, "name": names.get(b, ""), "price": yuan(d["price"]["exact"]),
             "deviation": _pair(d["deviation"]), "deviation_used": _pair(d["deviation_used"]),
             "deduction": _pair(d["deduction"]), "exact": _pair({"exact": d["exact"]}, 6), "rounded": d["rounded"]}
            for b, d in sorted(detail.get("bidders", {}).items())]
    review = report.get("price_review") or {}
    low = review.get("low_price", {}).get("flags", {})
    sme = detail.get("sme") or {}
    return {
        "price_rule_lines": rule_text(detail.get("rule"), detail.get("rounding")),
        "benchmark": yuan(detail["benchmark"]["exact"]) if detail.get("benchmark") else "",
        "mean": yuan(detail["mean"]["exact"]) if detail.get("mean") else "",
        "dropped": [yuan(p) for p in detail.get("dropped", [])], "k": detail.get("k_percent"),
        "price_detail_rows": rows,
        "rejection_names": REJECTIONS,
        "sme_rows": [{"bidder": b, "name": names.get(b, ""), "price": yuan(r["price_fen"]), "rate": r["rate_percent"],
                      "basis": r["basis"], "evaluated": yuan(r["evaluated_fen"]),
                      "statement": (r["declaration"] or {}).get("statement_sha256") or ""}
                     for b, r in sorted(sme.items()) if r["basis"] != "no_rule"],
        "low_rows": [{"bidder": b, "name": names.get(b, ""), "percent": f.get("percent_of_basis", ""),
                      "decision": (f.get("decision") or {}).get("decision", "未决"),
                      "reasons": (f.get("decision") or {}).get("reasons", "")} for b, f in sorted(low.items())],
        "correction_rows": [{"bidder": b, "name": names.get(b, ""), "proposed": yuan(c.get("proposed_fen")),
                             "basis": "、".join(c.get("basis", [])), "status": c["status"]}
                            for b, c in sorted(review.get("corrections", {}).items())],
        "bill_rows": [{"bidder": b, "name": names.get(b, ""), "lines": r["lines"],
                       "counts": "、".join(f"{k} {v}" for k, v in r["counts"].items()) or "无",
                       "sha256": r["bill_sha256"]} for b, r in sorted((report.get("bills") or {}).items())],
    }
