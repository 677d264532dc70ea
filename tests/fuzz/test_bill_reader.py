"""Fuzzing the 清标 bill reader (evaluation/bill_reader.py) at the level below the cells
(tests/evaluation/test_bills.py fuzzes cells and whole bytes): a valid workbook re-zipped with one
of its XML parts edited — bytes flipped, cut, or replaced by arbitrary text — and members added or
dropped. ``check_bill`` and ``read_tender_bill`` either report or raise ``BillUnreadable`` (a
``bad_request`` with ``details.code == "bill_unreadable"``), never anything else."""

from __future__ import annotations

import io
import zipfile

from hypothesis import HealthCheck, given, settings

from tests.conftest import IN_CI
from hypothesis import strategies as st

from evaluation.bill_reader import BillUnreadable, check_bill, read_tender_bill
from tests.evaluation.test_bills import L, TENDER_INDEX, clean, to_xlsx

VALID = to_xlsx(clean())
PARTS = sorted(zipfile.ZipFile(io.BytesIO(VALID)).namelist())
FUZZ = settings(max_examples=80, deadline=None, derandomize=IN_CI, suppress_health_check=[HealthCheck.too_slow])


def repack(changes: dict) -> bytes:
    src, out = zipfile.ZipFile(io.BytesIO(VALID)), io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            content = src.read(name)
            if name in changes:
                content = changes[name](content)
            if content is not None:
                dst.writestr(name, content)
        for name, change in changes.items():
            added = change(b"") if name not in src.namelist() else None
            if added is not None:
                dst.writestr(name, added)
    return out.getvalue()


def read(data: bytes) -> None:
    for run in (lambda: check_bill(data, L, TENDER_INDEX, announced_fen=100),
                lambda: read_tender_bill(data, L)):
        try:
            run()
        except BillUnreadable as exc:
            assert exc.details["code"] == "bill_unreadable"


EDIT = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("text"), st.integers(0, 10**6), st.text(max_size=40)),
    st.tuples(st.just("drop"), st.just(0), st.just(0)),
)


def apply(content: bytes, kind: str, at: int, arg):
    if kind == "drop":
        return None
    if not content:
        return arg.encode() if kind == "text" else content
    at %= len(content)
    if kind == "flip":
        data = bytearray(content)
        data[at] ^= arg
        return bytes(data)
    if kind == "cut":
        return content[:at]
    return content[:at] + arg.encode() + content[at:]


@given(st.sampled_from(PARTS + ["xl/worksheets/sheet9.xml"]), EDIT)
@FUZZ
def test_a_workbook_with_an_edited_part_reports_or_is_unreadable(part, edit):
    read(repack({part: lambda content: apply(content, *edit)}))


@given(st.sampled_from(PARTS), st.text(max_size=200))
@FUZZ
def test_a_part_replaced_by_arbitrary_text_reports_or_is_unreadable(part, text):
    read(repack({part: lambda _: text.encode()}))
