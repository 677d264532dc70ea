"""A lead's evidence as a person reads it: each field under its label, codes (stages, metadata
fields, price patterns) as words, times in Beijing time, bidders by their code (the committee) or
name (supervisors), machine values (hashes, addresses, user agents) set apart in ``.mono``. The
evidence's JSON stays on the page too, folded, for support. Presentation only: what a lead holds is
``collusion.signals`` (docs/collusion.md)."""

from __future__ import annotations

import re
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _

from common import beijing as bj

FIELDS = {
    "kind": _("Kind"), "value": _("Value"), "stages": _("Seen at"), "seen": _("Per bidder"),
    "field": _("Field"), "documents": _("Documents"), "sha256": _("SHA-256"), "size": _("Size (bytes)"),
    "where": _("Where"), "windows": _("Matched passages"), "shared_chars": _("Shared characters"),
    "share": _("Share of the smaller bid's own text"), "candidates": _("Candidate passages"),
    "aligned": _("Compared character by character"), "confirmed": _("Confirmed by the comparison"),
    "examples": _("Examples"), "in_documents_of": _("In the documents of"), "names": _("Bidder named"),
    "matched": _("What matched"), "text": _("Text"), "document": _("Document"), "context": _("Context"),
    "id_number": _("Identity number (partly hidden)"), "certificate_number": _("Certificate number"),
    "pattern": _("Pattern"), "prices": _("Prices (yuan)"), "differences": _("Differences (yuan)"),
    "exact": _("Exactly equal"), "round_prices": _("All round amounts"), "ratios": _("Ratios"),
    "spread_percent": _("Spread (%)"), "low": _("Lowest bid (yuan)"), "ring": _("Just above it (yuan)"),
    "others": _("Other bids"), "times": _("Decrypted at"), "span_seconds": _("Within (seconds)"),
    "tenders_together": _("Tenders bid together"), "decided": _("Of them decided"), "wins": _("Wins"),
    "tenders": _("Tenders"), "benchmark": _("Benchmark price (yuan)"), "benchmark_kind": _("Benchmark rule"),
    "deviations_percent": _("Deviation from the benchmark (%)"), "count": _("Shared errors"), "kinds": _("By kind"), "errors": _("Errors"),
}
VALUES = {
    "machine": _("Sealing computer"), "ip": _("Network address"), "certificate": _("Certificate"),
    "image": _("Image"), "attachment": _("Attachment"), "id_number": _("Identity number"),
    "sealing": _("Sealing"), "upload": _("Upload"), "receipt": _("Receipt"), "decryption": _("Decryption"),
    "author": _("Author"), "last_modified_by": _("Last modified by"), "company": _("Company"),
    "manager": _("Manager"), "template": _("Template"), "document_id": _("Document id"),
    "created": _("Creation time"), "credit_code": _("Unified social credit code"), "name": _("Name"),
    "equal_differences": _("Equal differences"), "equal_ratios": _("Equal ratios"),
    "tight_cluster": _("Tightly clustered"), "around_benchmark": _("Clustered around the benchmark price"),
    "mean": _("Mean of the bids"), "composite": _("Ceiling and mean combined"), "ring_above_low": _("Bids just above the lowest"),
    "one_wins": _("One of them always wins"), "rotation": _("They take turns winning"),
    "wrong_character": _("Wrong character"), "punctuation": _("Odd punctuation"),
    "wrong_number": _("Wrong figure or unit"),
}
CODED = {"kind", "stages", "field", "matched", "pattern", "stage", "benchmark_kind"}  # values that are codes
MACHINE = {"value", "sha256", "user_agent", "tenders"}  # values people copy, not read
BIDDER_VALUES = {"in_documents_of", "names"}
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d")


def evidence_rows(evidence: dict[str, Any], bidders: dict[str, str]) -> list[dict[str, Any]]:
    """``[{"label", "html"}]`` for the template; ``bidders``: the evidence's bidder keys (organisation
    ids, or the committee's codes) → how to name them."""
    rows = []
    for key, value in evidence.items():
        label = FIELDS.get(key)
        html = _value(key, value, bidders)
        rows.append({"label": label if label is not None else format_html('<small class="code">{}</small>', key),
                     "html": html})
    return rows


def _value(key: str, value: Any, bidders: dict[str, str]) -> SafeString:
    if key == "examples" and isinstance(value, list):
        return format_html_join(mark_safe("<br>"), "「{}」 ↔ 「{}」 ({})",
                                ((e.get("a", ""), e.get("b", ""), _percent(e.get("ratio")))
                                 for e in value if isinstance(e, dict)))
    if key == "errors" and isinstance(value, list):
        return format_html_join(mark_safe("<br>"), "{}", ((_error(e, bidders),) for e in value if isinstance(e, dict)))
    if key == "share":
        return format_html("{}", _percent(value))
    if isinstance(value, dict):
        return format_html_join(mark_safe("；"), "{}：{}", ((bidders.get(str(k), _label(k)), _value(key, v, bidders))
                                                         for k, v in value.items()))
    if isinstance(value, list):
        if key == "seen" or any(isinstance(v, dict) for v in value):
            return format_html_join(mark_safe("；"), "{}", ((_seen(v) if isinstance(v, dict) else _scalar(key, v, bidders),)
                                                          for v in value))
        return format_html_join(mark_safe("、"), "{}", ((_scalar(key, v, bidders),) for v in value))
    return _scalar(key, value, bidders)


def _error(error: dict, bidders: dict[str, str]) -> SafeString:
    """「施工组识」 (wrong character, should be 「施工组织」): B01 a.docx line 7 「…」; B02 …"""
    places = format_html_join(mark_safe("；"), "{} {} {} 「{}」", (
        (bidders.get(str(b), str(b)), p.get("document", ""), _("line %(line)s") % {"line": p.get("line", "?")},
         p.get("context", "")) for b, where in (error.get("where") or {}).items() for p in where if isinstance(p, dict)))
    return format_html("「{}」（{}，{}「{}」）：{}", error.get("text", ""), _label(error.get("kind", "")),
                       _("should be"), error.get("correct", ""), places)


def _seen(entry: dict) -> SafeString:
    parts = [format_html("{}", _label(entry.get("stage", "")))]
    if entry.get("at"):
        parts.append(format_html("{}", bj.beijing(entry["at"])))
    if entry.get("user_agent"):
        parts.append(format_html('<span class="mono">{}</span>', entry["user_agent"]))
    return mark_safe(" ".join(parts))


def _scalar(key: str, value: Any, bidders: dict[str, str]) -> SafeString:
    if isinstance(value, bool):
        return format_html("{}", _("Yes") if value else _("No"))
    if value is None:
        return format_html("{}", "—")
    text = str(value)
    if key in BIDDER_VALUES:
        return format_html("{}", bidders.get(text, text))
    if key in CODED:
        return format_html("{}", _label(text))
    if _ISO.match(text):
        return format_html("{}", bj.beijing(text))
    if key in MACHINE or key == "seen":
        return format_html('<span class="mono">{}</span>', text)
    return format_html("{}", text)


def _label(code) -> str:
    label = VALUES.get(str(code))
    return str(label) if label is not None else str(code)


def _percent(value) -> str:
    try:
        return f"{float(value) * 100:.1f}%"
    except (TypeError, ValueError):
        return "—"
