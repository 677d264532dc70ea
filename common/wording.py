"""Small pieces of wording that depend on the page's language, beyond the catalogue's messages."""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import get_language


def join_list(items: Iterable) -> str:
    """Items as a list in the active language: "南京市、苏州市" (zh) or "Nanjing, Suzhou" (en); a
    Chinese enumeration comma on an English page is a label left in Chinese."""
    chinese = (get_language() or "zh-hans").lower().startswith("zh")
    return ("、" if chinese else ", ").join(str(i) for i in items)


def in_parens(text) -> str:
    """A note in brackets after what it qualifies: "（91320100MA1NJ0001M）" (zh) or " (91320100MA1NJ0001M)" (en)."""
    chinese = (get_language() or "zh-hans").lower().startswith("zh")
    return f"（{text}）" if chinese else f" ({text})"


def label_colon() -> str:
    """The colon after a label: "：" (zh) or ": " (en)."""
    return "：" if (get_language() or "zh-hans").lower().startswith("zh") else ": "


def join_clauses(items: Iterable) -> str:
    """Clauses one after the other: "甲；乙" (zh) or "a; b" (en)."""
    chinese = (get_language() or "zh-hans").lower().startswith("zh")
    return ("；" if chinese else "; ").join(str(i) for i in items)
