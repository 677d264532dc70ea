"""The figures docs/collusion.md quotes in "False positives, measured on the test corpus", read
back so that the tests compare them with what they measure: a figure in the docs is a
measurement, never a claim nobody checks."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "collusion.md"


def section() -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index("## False positives, measured on the test corpus")
    return text[start:text.index("\n## ", start + 1)]


def signal_rows() -> dict[str, tuple[int, int]]:
    """``| `signal` | honest | riggers |`` rows: leads naming an honest bidder, leads among riggers."""
    return {m[1]: (int(m[2]), int(m[3]))
            for m in re.finditer(r"^\| `(\w+)` \| (\d+) \| (\d+) \|$", section(), re.M)}


def price_rows() -> dict[str, int]:
    """``| `pattern` | tenders flagged |`` rows of the price simulation."""
    return {m[1]: int(m[2]) for m in re.finditer(r"^\| `(\w+)` \| (\d+) \(", section(), re.M)}


def error_rows() -> dict[int, tuple[int, int, int, int]]:
    """``| N honest bidders | tenders with a lead | weak | moderate | strong |`` rows."""
    return {int(m[1]): (int(m[2]), int(m[3]), int(m[4]), int(m[5]))
            for m in re.finditer(r"^\| (\d+) honest bidders \| (\d+) \| (\d+) \| (\d+) \| (\d+) \|$", section(), re.M)}
