"""清标: checking a bidder's priced bill (工程量清单) against the tender's bill, advisory.

The tender declares the bill's layout (``parse_layout``): which sheet, the first data row, the column
of each field — item code, name, unit, quantity, unit price, line total — the labels of section
and grand totals, and optionally the bid form's cells (the amount in words and in figures). A row
with a code is a line; a row without a code whose name is not a total label starts a section; a
row whose name is the section-total (grand-total) label states that total.

``BillCheck`` takes the tender's bill (``index_of`` its rows) and one bidder's rows as a stream
(``feed``), holding only running sums and the findings (at most ``MAX_ITEMS`` kept per code, all
counted), so a bill of any length is checked in constant memory beyond the tender's index.
Findings (stable codes):

=========================  ========================================================================
``line_arithmetic``        unit price × quantity ≠ the line total, to the fen (the product rounded
                           half up to the fen, as the tender's pricing rules commonly state)
``decimal_misplaced``      … and the total is the product with the unit price's decimal point moved
``section_total``          a stated section total ≠ the sum of its stated line totals
``grand_total``            the stated grand total ≠ the sum of the stated line totals
``price_mismatch``         the grand total ≠ the announced price (唱标)
``quantity_changed``       a quantity ≠ the tender's; ``item_changed``: name or unit ≠ the tender's
``missing_item``           in the tender's bill, not in the bidder's; ``extra_item``: the reverse
``duplicate_item``         a code twice
``unreadable``             a cell that should hold a number does not
``words_mismatch``         the bid form's amount in words ≠ its figure; ``words_unreadable``
``form_price_mismatch``    the bid form's amount ≠ the announced price
=========================  ========================================================================

Proposed corrections (评标委员会和评标方法暂行规定 Art. 19; the same order in 财政部令第87号 Art. 59):
words prevail over figures; the unit price prevails over the line total unless its decimal point is
obviously misplaced (then the total prevails and the unit price is corrected); totals follow the
corrected lines. The proposed price is the corrected bill total when a line changed, else the
amount in words when it differs. A correction binds the bidder only once it confirms it (else the
bid is rejected); the committee decides — nothing here changes a price.
"""

from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any, Iterable, NamedTuple

from common.errors import BadRequest

from .daxie import WordsError, parse_words
from .exact import ratio_text, round_exact

FIELDS = ("code", "name", "unit", "quantity", "unit_price", "total")
MAX_ITEMS = 200
_COLUMN = re.compile(r"^[A-Z]{1,2}$")
_DOCUMENT = re.compile(r"[^/\\\x00-\x1f][^\\\x00-\x1f]{0,190}\.xlsx")
_CELL = re.compile(r"^[A-Z]{1,2}[1-9][0-9]{0,5}$")


@dataclass(frozen=True)
class Layout:
    columns: dict[str, str]
    first_row: int = 2
    sheet: str | None = None
    section_total_label: str = "小计"
    grand_total_label: str = "合计"
    form_sheet: str | None = None
    words_cell: str | None = None
    figure_cell: str | None = None
    document: str | None = None  # the bill's name under documents/ in the bid package

    def column_index(self) -> dict[str, int]:
        def index(letters: str) -> int:
            n = 0
            for ch in letters:
                n = n * 26 + ord(ch) - 64
            return n - 1
        return {f: index(c) for f, c in self.columns.items()}


def parse_layout(raw: Any) -> Layout:
    allowed = {"columns", "first_row", "sheet", "section_total_label", "grand_total_label", "form", "document"}
    if not isinstance(raw, dict) or set(raw) - allowed:
        raise BadRequest("a bill layout is {columns, first_row, sheet?, section_total_label?, grand_total_label?, "
                         "form?, document?}")
    cols = raw.get("columns")
    if not isinstance(cols, dict) or set(cols) != set(FIELDS) or not all(
            isinstance(v, str) and _COLUMN.match(v) for v in cols.values()) or len(set(cols.values())) != 6:
        raise BadRequest("the layout maps code, name, unit, quantity, unit_price and total to distinct columns (A–ZZ)")
    first = raw.get("first_row", 2)
    if isinstance(first, bool) or not isinstance(first, int) or not 1 <= first <= 1000:
        raise BadRequest("first_row is an integer from 1 to 1000")
    form = raw.get("form")
    form_fields: dict[str, Any] = {}
    if form is not None:
        if not isinstance(form, dict) or set(form) - {"sheet", "words", "figure"} or not all(
                isinstance(form.get(k), str) and _CELL.match(form[k]) for k in ("words", "figure")):
            raise BadRequest("the form is {sheet, words: cell, figure: cell}")
        form_fields = {"form_sheet": form.get("sheet"), "words_cell": form["words"], "figure_cell": form["figure"]}
    labels = {k: raw.get(k, d) for k, d in (("section_total_label", "小计"), ("grand_total_label", "合计"))}
    if not all(isinstance(v, str) and 0 < len(v) <= 20 for v in labels.values()):
        raise BadRequest("total labels are 1 to 20 characters")
    sheet = raw.get("sheet")
    if sheet is not None and (not isinstance(sheet, str) or not 0 < len(sheet) <= 31):
        raise BadRequest("sheet is a worksheet name")
    document = raw.get("document")
    if document is not None and not (isinstance(document, str) and _DOCUMENT.fullmatch(document)
                                     and ".." not in document.split("/")):
        raise BadRequest("document is the bill's file name in the bid package's documents/, ending in .xlsx")
    return Layout(columns=dict(cols), first_row=first, sheet=sheet, **labels, **form_fields, document=document)


class Row(NamedTuple):
    """One row as read: texts stripped, numbers as exact Decimals (None when empty), ``bad`` naming
    the numeric fields whose cell held something else. (A tuple: one is made per line.)"""

    number: int
    code: str
    name: str
    unit: str
    quantity: Decimal | None
    unit_price: Decimal | None
    total: Decimal | None
    bad: tuple[str, ...] = ()


def _to_number(value: Any) -> Decimal | None:
    """A cell's number, exactly as written: ints and decimal text as they are; a float (how xlsx
    stores every number) by its shortest round-trip text, which is what was typed (12.35, not
    12.3499999…). Thousands separators and ¥ are allowed in text. Raises ``ValueError``."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("not finite")
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().replace(",", "").replace("，", "").lstrip("¥￥")
        if not text:
            return None
        if len(text) > 40:
            raise ValueError("too long")
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError("not a number") from None
        if not number.is_finite():
            raise ValueError("not finite")
        return number
    raise ValueError("not a number")


_LIMIT = Decimal(10) ** 15


def to_number(value: Any) -> Decimal | None:
    """A cell's number (``_to_number``), bounded: |x| < 10^15 with at most 20 decimal places, so
    every product of two of them is exact at ``_EXACT``'s precision."""
    number = _to_number(value)
    if number is not None and (abs(number) >= _LIMIT or number.as_tuple().exponent < -20):
        raise ValueError("out of range")
    return number


# Exact decimal arithmetic: a product of two cell values (each at most 40 characters) needs at most
# 80 digits, so with this precision no operation rounds; the Inexact trap makes sure of it.
_EXACT = decimal.Context(prec=100, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])
_FEN = Decimal(1)


def fen(yuan: Decimal) -> int | Fraction:
    """An amount in yuan as fen: an int for a whole number of fen, else the exact Fraction."""
    amount = _EXACT.multiply(yuan, Decimal(100))
    return int(amount) if amount == amount.to_integral_value() else Fraction(amount)


def product_fen(quantity: Decimal, unit_price: Decimal) -> int:
    """quantity × unit price in fen, rounded half up to the fen (exact: decimal products are)."""
    exact = _EXACT.multiply(_EXACT.multiply(quantity, unit_price), Decimal(100))
    return int(exact.quantize(_FEN, rounding=decimal.ROUND_HALF_UP, context=decimal.Context(prec=100)))


@dataclass
class Findings:
    counts: dict[str, int] = field(default_factory=dict)
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, kind: str, /, **detail: Any) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1
        kept = self.items.setdefault(kind, [])
        if len(kept) < MAX_ITEMS:
            kept.append(detail)


@dataclass(frozen=True)
class TenderItem:
    name: str
    unit: str
    quantity: Decimal | None
    position: int = 0  # its place in the tender's bill: the bit that marks it seen


def index_of(rows: Iterable[Row]) -> dict[str, TenderItem]:
    """The tender's bill: code -> (name, unit, quantity). A duplicate code is the tender's error."""
    out: dict[str, TenderItem] = {}
    for row in rows:
        if row.code:
            if row.code in out:
                raise BadRequest("the tender's bill lists an item code twice", details={"code": row.code})
            out[row.code] = TenderItem(row.name, row.unit, row.quantity, len(out))
    return out


def _text(x: int | Fraction) -> str:
    """Fen as yuan text: exact 2 decimals for whole fen, else the exact ratio of yuan."""
    x = Fraction(x)
    return str(round_exact(x / 100, 2, "ROUND_HALF_UP")) if x.denominator == 1 else ratio_text(x / 100)


class BillCheck:
    """One bidder's bill, fed row by row."""

    def __init__(self, layout: Layout, tender: dict[str, TenderItem]) -> None:
        self.layout, self.tender = layout, tender
        self.findings = Findings()
        # Seen items: one bit per tender line, plus the codes the tender does not have.
        self.seen = bytearray(len(tender))
        self.seen_extra: set[str] = set()
        self.lines = 0
        self.stated_sum: int | Fraction = 0  # Σ stated line totals, fen
        self.corrected_sum: int | Fraction = 0  # Σ corrected line totals, fen
        self.section_stated: int | Fraction = 0
        self.section = ""
        self.grand_stated: int | Fraction | None = None
        self.changed_lines = 0

    def feed(self, row: Row) -> None:
        for name in row.bad:
            self.findings.add("unreadable", row=row.number, field=name)
        label = row.name.strip()
        if not row.code:
            if label == self.layout.section_total_label:
                self._section_total(row)
            elif label == self.layout.grand_total_label:
                self.grand_stated = None if row.total is None else fen(row.total)
                if self.grand_stated is not None and self.grand_stated != self.stated_sum:
                    self.findings.add("grand_total", row=row.number, stated=_text(self.grand_stated),
                                      computed=_text(self.stated_sum))
            elif label:
                self.section, self.section_stated = label, 0
            return
        self._line(row)

    def _section_total(self, row: Row) -> None:
        if row.total is not None and fen(row.total) != self.section_stated:
            self.findings.add("section_total", row=row.number, section=self.section,
                              stated=_text(fen(row.total)), computed=_text(self.section_stated))
        self.section_stated = 0

    def _line(self, row: Row) -> None:
        self.lines += 1
        code = row.code
        item = self.tender.get(code)
        if item is None:
            if code in self.seen_extra:
                self.findings.add("duplicate_item", row=row.number, code=code)
            self.seen_extra.add(code)
            self.findings.add("extra_item", row=row.number, code=code, name=row.name)
        else:
            if self.seen[item.position]:
                self.findings.add("duplicate_item", row=row.number, code=code)
            self.seen[item.position] = 1
            if item.quantity is not None and row.quantity != item.quantity:
                self.findings.add("quantity_changed", row=row.number, code=code, tender=str(item.quantity),
                                  bid=None if row.quantity is None else str(row.quantity))
            if (row.name, row.unit) != (item.name, item.unit):
                self.findings.add("item_changed", row=row.number, code=code, tender=[item.name, item.unit],
                                  bid=[row.name, row.unit])
        stated = fen(row.total) if row.total is not None else None
        corrected = stated
        if row.quantity is not None and row.unit_price is not None:
            product = product_fen(row.quantity, row.unit_price)
            if stated is None or stated != product:
                corrected = self._correct_line(row, stated, product)
        self.stated_sum += stated or 0
        self.section_stated += stated or 0
        self.corrected_sum += corrected or 0

    def _correct_line(self, row: Row, stated: int | Fraction | None, product: int) -> int | Fraction:
        assert row.quantity is not None and row.unit_price is not None
        if stated is not None and row.quantity != 0:
            for shift in (1, 2, 3, 4, -1, -2, -3, -4):
                moved = row.unit_price.scaleb(shift)
                if product_fen(row.quantity, moved) == stated:
                    # Art. 19: the unit price's decimal point is obviously misplaced: the total prevails
                    self.findings.add("decimal_misplaced", row=row.number, code=row.code,
                                      unit_price=str(row.unit_price), corrected_unit_price=str(moved),
                                      total=_text(stated))
                    return stated
        self.changed_lines += 1
        self.findings.add("line_arithmetic", row=row.number, code=row.code, quantity=str(row.quantity),
                          unit_price=str(row.unit_price), stated=None if stated is None else _text(stated),
                          corrected=_text(product))
        return product

    def finish(self, *, announced_fen: int, words: Any = None, figure: Any = None) -> dict[str, Any]:
        """The report: findings, totals, the proposed correction (None when nothing to correct)."""
        for code, item in self.tender.items():
            if not self.seen[item.position]:
                self.findings.add("missing_item", code=code, name=item.name)
        grand = self.grand_stated if self.grand_stated is not None else self.stated_sum
        if grand != announced_fen:
            self.findings.add("price_mismatch", bill_total=_text(grand), announced=_text(Fraction(announced_fen)))
        words_fen = self._form(words, figure, announced_fen)
        proposed, basis = None, []
        if self.changed_lines and self.corrected_sum.denominator == 1 and self.corrected_sum != announced_fen:
            proposed, basis = int(self.corrected_sum), ["unit_price_prevails"]
        elif words_fen is not None and words_fen != announced_fen:
            proposed, basis = words_fen, ["words_prevail"]
        return {"lines": self.lines, "counts": dict(sorted(self.findings.counts.items())),
                "findings": {k: v for k, v in sorted(self.findings.items.items())},
                "stated_total_fen": ratio_text(grand), "corrected_total_fen": ratio_text(self.corrected_sum),
                "announced_fen": announced_fen, "words_fen": words_fen,
                "proposed": None if proposed is None else {"price_fen": proposed, "basis": basis,
                                                           "source": "评标委员会和评标方法暂行规定 Art. 19"}}

    def _form(self, words: Any, figure: Any, announced_fen: int) -> int | None:
        if self.layout.words_cell is None:
            return None
        words_fen = None
        try:
            words_fen = parse_words(str(words or ""))
        except WordsError as exc:
            self.findings.add("words_unreadable", text=str(words or "")[:80], reason=str(exc))
        try:
            number = to_number(figure)
        except ValueError:
            number = None
            self.findings.add("unreadable", field="figure")
        figure_fen = None if number is None else fen(number)
        if words_fen is not None and figure_fen is not None and words_fen != figure_fen:
            self.findings.add("words_mismatch", words=str(words)[:80], words_fen=words_fen,
                              figure_fen=ratio_text(figure_fen))
        stated = words_fen if words_fen is not None else figure_fen
        if stated is not None and stated != announced_fen:
            self.findings.add("form_price_mismatch", form_fen=ratio_text(stated), announced_fen=announced_fen)
        return words_fen
