"""Reading priced bills (xlsx) for 清标 with openpyxl, streamed.

The workbook is opened ``read_only`` (rows are parsed as they are iterated, not loaded into a tree)
with ``data_only`` (a formula cell gives the value Excel cached when it saved; a workbook written by
a program that never computed its formulas has none, and the cell reads as empty — the checks then
report the missing total). Rows become ``rules.bills.Row`` values; ``check_bill`` feeds them to
``rules.bills.BillCheck`` one at a time, so memory does not grow with the number of lines.

Any file openpyxl cannot read (not a zip, not a workbook, a missing sheet) is ``BillUnreadable``, a
``bad_request`` with code details ``bill_unreadable``: the committee then checks that bill by hand.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any, Iterator

from common.errors import BadRequest

from .rules.bills import BillCheck, Layout, Row, TenderItem, index_of, to_number

MAX_BILL_BYTES = 64 * 2 ** 20
MAX_ROWS = 200_000
MAX_TEXT = 500


class BillUnreadable(BadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__("the bill cannot be read as the tender's xlsx layout",
                         details={"reason": reason[:200], "code": "bill_unreadable"})


def _open(data: bytes):
    from openpyxl import load_workbook

    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_BILL_BYTES:
        raise BillUnreadable("not bytes, or larger than 64 MiB")
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError, OSError, EOFError, IndexError) as exc:
        raise BillUnreadable(f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # openpyxl raises its own and lxml's errors on malformed parts
        raise BillUnreadable(f"{type(exc).__name__}") from None


def _sheet(book, name: str | None):
    if name is None:
        return book.worksheets[0] if book.worksheets else None
    return book[name] if name in book.sheetnames else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:MAX_TEXT]


def iter_rows(book, layout: Layout) -> Iterator[Row]:
    sheet = _sheet(book, layout.sheet)
    if sheet is None:
        raise BillUnreadable(f"no sheet {layout.sheet!r}")
    cols = layout.column_index()
    width = max(cols.values()) + 1
    try:
        for n, values in enumerate(sheet.iter_rows(min_row=layout.first_row, max_col=width, values_only=True),
                                   start=layout.first_row):
            if n - layout.first_row >= MAX_ROWS:
                raise BillUnreadable(f"more than {MAX_ROWS} rows")
            cells = list(values) + [None] * (width - len(values))
            texts = {f: _text(cells[cols[f]]) for f in ("code", "name", "unit")}
            if not any(texts.values()) and all(cells[cols[f]] in (None, "") for f in ("quantity", "unit_price", "total")):
                continue
            numbers: dict[str, Any] = {}
            bad = []
            for f in ("quantity", "unit_price", "total"):
                try:
                    numbers[f] = to_number(cells[cols[f]])
                except ValueError:
                    numbers[f] = None
                    bad.append(f)
            yield Row(n, texts["code"], texts["name"], texts["unit"], numbers["quantity"], numbers["unit_price"],
                      numbers["total"], tuple(bad))
    except BillUnreadable:
        raise
    except Exception as exc:  # a malformed sheet part surfaces while iterating
        raise BillUnreadable(f"{type(exc).__name__}") from None


def _form_values(book, layout: Layout) -> tuple[Any, Any]:
    if layout.words_cell is None:
        return None, None
    sheet = _sheet(book, layout.form_sheet)
    if sheet is None:
        raise BillUnreadable(f"no sheet {layout.form_sheet!r}")
    try:
        return sheet[layout.words_cell].value, sheet[layout.figure_cell].value
    except Exception as exc:
        raise BillUnreadable(f"{type(exc).__name__}") from None


def read_tender_bill(data: bytes, layout: Layout) -> dict[str, TenderItem]:
    book = _open(data)
    try:
        return index_of(iter_rows(book, layout))
    finally:
        book.close()


def check_bill(data: bytes, layout: Layout, tender: dict[str, TenderItem], *, announced_fen: int) -> dict[str, Any]:
    """One bidder's bill checked against the tender's: the report of ``BillCheck.finish``."""
    book = _open(data)
    try:
        check = BillCheck(layout, tender)
        for row in iter_rows(book, layout):
            check.feed(row)
        words, figure = _form_values(book, layout)
        return check.finish(announced_fen=announced_fen, words=words, figure=figure)
    finally:
        book.close()
