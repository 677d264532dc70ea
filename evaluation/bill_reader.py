"""Reading priced bills (xlsx) for 清标 with python-calamine (the Rust ``calamine`` reader).

openpyxl's streaming reader spent about 0.5 s on one bill of 5,000 lines here, more than the whole
budget of 清标 (20 such bills ≤ 10 s; ``bench/bench_prices.py``); calamine parses the same sheet in
a twentieth of that. calamine reads a sheet's cells into one compact Rust array and hands rows to
Python one at a time (``iter_rows``), so Python's memory does not grow with the number of lines; the
Rust array is about 40 bytes a cell. Cached values are read for formula cells (what Excel computed
when it saved); a workbook written by a program that never computed its formulas has none, and the
cell reads as empty — the checks then report the missing total.

What calamine is given is bounded first: at most 64 MiB of xlsx, whose parts, inflated by Python's
``zipfile`` as a stream, add up to at most 256 MiB (a "zip bomb" is refused before it is parsed).
Any file that cannot be read (not a zip, not a workbook, a missing sheet, too large) is
``BillUnreadable``, a ``bad_request`` with code details ``bill_unreadable``: the committee then
checks that bill by hand.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any, Iterator

from common.errors import BadRequest

from .rules.bills import BillCheck, Layout, Row, TenderItem, index_of, to_number

MAX_BILL_BYTES = 64 * 2 ** 20
MAX_EXPANDED_BYTES = 256 * 2 ** 20
MAX_ROWS = 200_000
MAX_TEXT = 500
_CHUNK = 2 ** 16
_CELL = re.compile(r"([A-Z]{1,3})([1-9][0-9]{0,6})")


class BillUnreadable(BadRequest):
    def __init__(self, reason: str) -> None:
        super().__init__("the bill cannot be read as the tender's xlsx layout",
                         details={"reason": reason[:200], "code": "bill_unreadable"})


def _check_expansion(data: bytes) -> None:
    """Inflate every part once, counting, and stop at the bound: the declared sizes in a zip's
    directory are the writer's word, not a limit."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            total = 0
            for info in archive.infolist():
                with archive.open(info) as part:
                    while chunk := part.read(_CHUNK):
                        total += len(chunk)
                        if total > MAX_EXPANDED_BYTES:
                            raise BillUnreadable("its parts expand beyond 256 MiB")
    except BillUnreadable:
        raise
    except Exception as exc:  # zipfile's, zlib's and struct's errors on a damaged or encrypted part
        raise BillUnreadable(f"{type(exc).__name__}: {exc}") from None


def _open(data: bytes):
    from python_calamine import CalamineError, CalamineWorkbook

    if not isinstance(data, (bytes, bytearray)) or len(data) > MAX_BILL_BYTES:
        raise BillUnreadable("not bytes, or larger than 64 MiB")
    _check_expansion(bytes(data))
    try:
        return CalamineWorkbook.from_filelike(io.BytesIO(data))
    except CalamineError as exc:
        raise BillUnreadable(f"{type(exc).__name__}: {exc}") from None
    except Exception as exc:  # a malformed part may surface as a plain error from the binding
        raise BillUnreadable(f"{type(exc).__name__}") from None


def _sheet(book, name: str | None):
    names = book.sheet_names
    if not names or (name is not None and name not in names):
        raise BillUnreadable(f"no sheet {name!r}" if name is not None else "no sheet")
    try:
        return book.get_sheet_by_name(names[0] if name is None else name)
    except Exception as exc:
        raise BillUnreadable(f"{type(exc).__name__}") from None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()[:MAX_TEXT]


def _rows(sheet, first_row: int, width: int) -> Iterator[tuple[int, list]]:
    """(1-based row number, the row's first ``width`` cells), from ``first_row`` on. calamine's
    ``iter_rows`` starts at row 1 but at the sheet's first used column; cells left of it are empty."""
    left = sheet.start[1] if sheet.start else 0
    for n, values in enumerate(sheet.iter_rows(), start=1):
        if n < first_row:
            continue
        cells = [None] * left + [None if v == "" else v for v in values[:max(0, width - left)]]
        yield n, cells + [None] * (width - len(cells))


def iter_rows(book, layout: Layout) -> Iterator[Row]:
    sheet = _sheet(book, layout.sheet)
    cols = layout.column_index()
    width = max(cols.values()) + 1
    try:
        for n, cells in _rows(sheet, layout.first_row, width):
            if n - layout.first_row >= MAX_ROWS:
                raise BillUnreadable(f"more than {MAX_ROWS} rows")
            texts = {f: _text(cells[cols[f]]) for f in ("code", "name", "unit")}
            if not any(texts.values()) and all(cells[cols[f]] is None for f in ("quantity", "unit_price", "total")):
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


def _cell_position(ref: str) -> tuple[int, int]:
    match = _CELL.fullmatch(ref.upper())
    if not match:
        raise BillUnreadable(f"not a cell reference: {ref!r}")
    col = 0
    for letter in match.group(1):
        col = col * 26 + ord(letter) - ord("A") + 1
    return int(match.group(2)), col - 1


def _form_values(book, layout: Layout) -> tuple[Any, Any]:
    if layout.words_cell is None:
        return None, None
    sheet = _sheet(book, layout.form_sheet)
    wanted = {ref: _cell_position(ref) for ref in (layout.words_cell, layout.figure_cell)}
    last = max(row for row, _ in wanted.values())
    width = max(col for _, col in wanted.values()) + 1
    found: dict[int, list] = {}
    try:
        for n, cells in _rows(sheet, 1, width):
            if n > last:
                break
            found[n] = cells
    except Exception as exc:
        raise BillUnreadable(f"{type(exc).__name__}") from None
    words, figure = (found.get(row, [None] * width)[col] for row, col in wanted.values())
    return words, figure


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
