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


def _n(text: Any) -> str:
    """An exact number as a tender writes it: 0.5, not 1/2 (a fraction only when no decimal is exact)."""
    x = Fraction(str(text))
    d = x.denominator
    for p in (2, 5):
        while d % p == 0:
            d //= p
    if d != 1:
        return str(x)
    places = 0
    while (x * 10 ** places).denominator != 1:
        places += 1
    return f"{x.numerator / x.denominator:.{places}f}" if places else str(x.numerator)


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
        lines.append(f"偏差率 d = (评审价格 − 评标基准价) / 评标基准价 × 100%；每偏离 {_n(score['step'])}% 扣分，"
                     f"{DEDUCTIONS[score['deduction']]}；最低 {_n(score['floor'])} 分")
        if score["deduction"] == "interpolated":
            for side, word in (("above", "高于"), ("below", "低于")):
                bands = "；".join(f"至 {_n(b['upto'])}% 每档 {_n(b['rate'])} 分" if b["upto"] else f"其后每档 {_n(b['rate'])} 分"
                                 for b in score[f"{side}_bands"])
                lines.append(f"{word}基准价：{bands}")
        else:
            lines.append(f"高于基准价每档扣 {_n(score['above'])} 分，低于基准价每档扣 {_n(score['below'])} 分")
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


METHODS = {"comprehensive": "综合评估法", "lowest_evaluated_price": "经评审的最低投标价法"}
SME_PROJECTS = {"goods_services": "货物和服务项目", "works": "工程项目"}
SME_KINDS = {"small_micro": "小微企业", "consortium": "联合体（小微企业份额）"}
LOW_BASES = {"mean_of_others": "其他有效投标报价的平均值", "mean": "有效投标报价的平均值", "benchmark": "评标基准价",
             "ceiling": "最高投标限价"}


def settings_text(settings: dict[str, Any]) -> list[str]:
    """The tender's evaluation settings (评标办法), validated, in the words of a tender document: the
    method, the weights, the price rule with its rounding, SME deductions, abnormally low prices and
    the bill of quantities checked in 清标. Shown on the tender's page, so a bidder reads before it
    bids exactly the rule its price will be scored by."""
    from .rules import abnormal, bills, price_rule, sme
    from .rules.numbers import Rounding

    weights = settings.get("weights") or {}
    lines = [f"评标办法：{METHODS.get(settings.get('method'), settings.get('method'))}",
             "分值：价格 {price} 分，技术 {technical} 分，商务 {business} 分".format(
                 **{k: weights.get(k, "—") for k in ("price", "technical", "business")})]
    rule = price_rule.rule_from_settings(settings)
    lines += rule_text(rule.as_dict(), Rounding.from_settings(settings).as_dict())
    if settings.get("sme"):
        r = sme.parse_sme_rule(settings["sme"]).as_dict()
        way = "价格扣除" if r["mode"] == "price_deduction" else "加分"
        for kind, rate in r["rates"].items():
            lines.append(f"中小企业（{SME_PROJECTS[r['project']]}）：{SME_KINDS.get(kind, kind)}{way} {rate}%，"
                         f"仅用于评审价格，不改变合同价格（{r['sources'][kind]}）")
    if settings.get("abnormally_low"):
        r = abnormal.parse_low_price_rule(settings["abnormally_low"]).as_dict()
        after = "否决其投标" if r["no_answer"] == "reject" else "由评标委员会决定"
        lines.append(f"异常低价：低于{LOW_BASES[r['basis']]}的 {r['percent']}% 的，评标委员会要求在 "
                     f"{r['answer_minutes']} 分钟内说明报价合理性；逾期未说明的，{after}（87号令第六十条）")
    if settings.get("bill_layout"):
        layout = bills.parse_layout(settings["bill_layout"])
        where = f"投标文件中的“{layout.document}”" if layout.document else "投标人提交的已标价工程量清单"
        lines.append(f"清标：平台按招标工程量清单核对{where}的单价、合价、小计、合计与大写金额；"
                     "修正依《评标委员会和评标方法暂行规定》第十九条，经投标人确认后生效")
    return lines


def evaluation_method_lines(stored: Any) -> list[str]:
    """``settings_text`` of a lot's stored settings, or nothing when they do not validate (a tender
    whose settings predate a rule shows no method rather than a wrong one)."""
    from common.errors import BadRequest

    from .rules.settings import validate_evaluation_settings

    try:
        return settings_text(validate_evaluation_settings(stored or {}))
    except BadRequest:
        return []
