"""Template filters for what people read: labels for codes, Beijing time (common/labels.py,
common/beijing.py)."""

from django import template

from common import beijing as bj
from common.labels import label as catalogue_label
from common.wording import in_parens, join_clauses, join_list, label_colon

register = template.Library()


@register.filter
def label(code, kind: str) -> str:
    """``{{ lot.status|label:"lot_status" }}``: the catalogue's label of a code."""
    return catalogue_label(kind, code)


@register.filter
def listed(items) -> str:
    """``{{ names|listed }}``: a list in the page's language ("、" in Chinese, ", " in English)."""
    return join_list(items)


@register.simple_tag
def colon() -> str:
    """``{% trans "State" %}{% colon %}``: the colon after a label in the page's language ("：" / ": ")."""
    return label_colon()


@register.filter
def paren(text) -> str:
    """``{{ org }}{{ code|paren }}``: a note in brackets in the page's language."""
    return in_parens(text)


@register.filter
def paren_with(first, second) -> str:
    """``{{ kind|paren_with:seats }}``: two notes in one bracket ("（主场，已用 3 个座位）" / " (main venue, …)")."""
    chinese = in_parens("").startswith("（")
    return in_parens(f"{first}{'，' if chinese else ', '}{second}")


@register.filter
def clauses(items) -> str:
    """``{{ reasons|clauses }}``: clauses in the page's language ("；" in Chinese, "; " in English)."""
    return join_clauses(items)


@register.filter
def beijing(value, options: str = "") -> str:
    """``{{ t|beijing }}``, ``{{ t|beijing:"zone" }}``, ``{{ t|beijing:"minutes" }}``."""
    return bj.beijing(value, seconds="minutes" not in options, zone="zone" in options)
