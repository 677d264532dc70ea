"""The questions the platform itself puts to a bidder (澄清): the text as issued, which is the record
(the bidder's list, the audit log and the report keep it word for word, in Chinese), and the code and
parameters by which the pages show it in their own language (``common.labels`` kind ``question``,
whose Chinese is this text). A question the chair typed has no code: it is shown as typed."""

from __future__ import annotations

from typing import Any

LOW_PRICE = ("贵方报价明显低于其他通过符合性审查投标人的报价，可能影响产品质量或者不能诚信履约。请在规定时间内提供书面说明，"
             "必要时提交相关证明材料，证明报价的合理性。")  # 财政部87号令 Art. 60


def yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


def correction(price_fen: int) -> str:
    """The correction put to the bidder for confirmation (R12 Art. 19)."""
    return (f"评标委员会依据《评标委员会和评标方法暂行规定》第十九条修正贵方投标报价为 {yuan(price_fen)} 元，"
            "请确认。修正经确认后具有约束力；不确认的，其投标将被否决。")


def question_code(clar) -> tuple[str | None, dict[str, Any]]:
    """``(code, params)`` of a clarification's question when the platform wrote it, else ``(None, {})``.
    Read from what the record holds (the purpose, the proposal, the text as issued), so it needs no
    column of its own and holds for every question asked before it existed."""
    if clar.purpose == "correction" and clar.proposal and clar.question == correction(clar.proposal["price_fen"]):
        return "correction", {"price_fen": clar.proposal["price_fen"]}
    if clar.purpose == "low_price" and clar.question == LOW_PRICE:
        return "low_price", {}
    return None, {}
