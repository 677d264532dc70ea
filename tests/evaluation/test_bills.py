"""清标 of priced bills (evaluation/rules/bills.py, evaluation/bill_reader.py) and amounts in words
(evaluation/rules/daxie.py): generated bills with each kind of planted error, a clean one, the
words' 零 and 整 edge cases, and the reader fuzzed with Hypothesis."""

import copy
import io
from decimal import Decimal as D

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from common.errors import PlatformError
from evaluation.bill_reader import BillUnreadable, check_bill, read_tender_bill
from evaluation.rules.bills import parse_layout
from evaluation.rules.daxie import WordsError, parse_words, to_words
from evaluation.testing_bills import LAYOUT, priced, restate, tender_bill, to_xlsx

pytest.importorskip("openpyxl")

L = parse_layout(LAYOUT)
TENDER = tender_bill(40, sections=4, seed=7)
TENDER_INDEX = read_tender_bill(to_xlsx(TENDER, with_prices=False), L)


def run(bill, *, announced=None):
    return check_bill(to_xlsx(bill), L, TENDER_INDEX, announced_fen=bill.price_fen if announced is None else announced)


def clean():
    return priced(TENDER, seed=3)


# --- amounts in words --------------------------------------------------------------------------------

@pytest.mark.parametrize("fen, words", [
    # the examples of 《正确填写票据和结算凭证的基本规定》(中国人民银行《支付结算办法》附件)
    (140950, "壹仟肆佰零玖元伍角"), (600714, "陆仟零柒元壹角肆分"), (168032, "壹仟陆佰捌拾元叁角贰分"),
    (10700053, "壹拾万柒仟元伍角叁分"), (1640902, "壹万陆仟肆佰零玖元零贰分"), (32504, "叁佰贰拾伍元零肆分"),
    (0, "零元整"), (5, "伍分"), (50, "伍角"), (100, "壹元整"), (1000, "壹拾元整"), (10001000, "壹拾万零壹拾元整"),
    (10000000100, "壹亿零壹元整"), (1234567890123, "壹佰贰拾叁亿肆仟伍佰陆拾柒万捌仟玖佰零壹元贰角叁分"),
    (100000000000, "壹拾亿元整"), (100500, "壹仟零伍元整"),
])
def test_amounts_are_written_in_words_as_the_payment_rules_show(fen, words):
    assert to_words(fen) == words and parse_words(words) == fen


@pytest.mark.parametrize("words, fen", [
    ("壹仟陆佰捌拾元零叁角贰分", 168032),  # the optional 零 where 元 is zero and 角 is not
    ("壹拾万零柒仟元伍角叁分", 10700053),  # the optional 零 where the 万 group's thousands are zero
    ("人民币拾万元整", 10000000), ("壹拾元伍角整", 1050), ("壹佰圆正", 10000), ("壹 万 元 整", 1000000),
    ("零元伍角", 50), ("壹万元零伍分", 1000005),
])
def test_every_allowed_variant_reads_as_the_same_amount(words, fen):
    assert parse_words(words) == fen


@pytest.mark.parametrize("words", [
    "", "整", "元整", "壹贰元", "壹仟壹仟元", "佰元", "壹拾佰元", "伍分伍角", "壹元伍分整", "壹元零", "壹元零零伍分",
    "壹万万元", "零零壹元", "壹元伍", "五元", "壹元整整", "壹亿亿元",
])
def test_malformed_words_are_refused_not_guessed(words):
    with pytest.raises(WordsError):
        parse_words(words)


@given(st.integers(0, 10 ** 14 - 1))
@settings(max_examples=500, deadline=None)
def test_words_read_back_as_the_amount_written(fen):
    assert parse_words(to_words(fen)) == fen


# --- planted errors ----------------------------------------------------------------------------------

def test_a_clean_bill_has_no_findings_and_no_correction():
    report = run(clean())
    assert report["counts"] == {} and report["proposed"] is None and report["lines"] == 40


def test_a_wrong_line_total_is_corrected_from_the_unit_price():
    """Art. 19: the unit price prevails; the corrected price is the sum of the corrected lines."""
    bill = clean()
    line = bill.sections[1][1][3]
    true_total = line.total
    line.total += D("10.00")  # the stated total is 10 元 too high; sums stay consistent above it
    restate(bill)
    report = run(bill)
    assert report["counts"] == {"line_arithmetic": 1}
    found = report["findings"]["line_arithmetic"][0]
    assert found["code"] == line.code and found["corrected"] == str(true_total)
    assert report["proposed"] == {"price_fen": bill.price_fen - 1000, "basis": ["unit_price_prevails"],
                                  "source": "评标委员会和评标方法暂行规定 Art. 19"}


def test_an_obviously_misplaced_decimal_point_in_the_unit_price_lets_the_total_prevail():
    bill = clean()
    line = bill.sections[0][1][0]
    line.unit_price = line.unit_price.scaleb(-2)  # 123.45 written as 1.2345: the total is right
    report = run(bill)
    assert report["counts"] == {"decimal_misplaced": 1} and report["proposed"] is None
    assert D(report["findings"]["decimal_misplaced"][0]["corrected_unit_price"]) == line.unit_price.scaleb(2)


def test_section_and_grand_totals_are_checked_against_the_lines():
    bill = clean()
    bill.section_totals[2] += D("0.01")
    bill.grand_total += D(1)
    bill.words, bill.figure = to_words(bill.price_fen), bill.grand_total
    report = run(bill)
    assert report["counts"] == {"grand_total": 1, "section_total": 1}
    assert report["findings"]["section_total"][0]["section"] == "第3部分"


def test_a_grand_total_other_than_the_announced_price_is_found():
    bill = clean()
    report = run(bill, announced=bill.price_fen + 1)
    assert report["counts"] == {"form_price_mismatch": 1, "price_mismatch": 1}


def test_changed_quantities_items_and_missing_extra_and_duplicate_lines_are_found():
    bill = clean()
    items = bill.sections[0][1]
    items[1].quantity += D("0.01")
    items[2].name = "另一个名称"
    items[3].unit = "kg"
    removed = bill.sections[3][1].pop()
    extra = copy.copy(items[4])
    extra.code = "999999999999"
    bill.sections[3][1].append(extra)
    bill.sections[2][1].append(copy.copy(bill.sections[2][1][0]))
    for _, lines in bill.sections:
        for line in lines:
            line.total = (line.quantity * line.unit_price).quantize(D("0.01"), rounding="ROUND_HALF_UP")
    restate(bill)
    report = run(bill)
    assert report["counts"] == {"duplicate_item": 1, "extra_item": 1, "item_changed": 2, "missing_item": 1,
                                "quantity_changed": 1}
    assert report["findings"]["missing_item"][0]["code"] == removed.code
    assert report["proposed"] is None


def test_words_prevail_over_the_figure_on_the_bid_form():
    """Art. 19: 大写金额和小写金额不一致的，以大写金额为准."""
    bill = clean()
    bill.words = to_words(bill.price_fen + 100)  # the words say one 元 more than the figures
    report = run(bill)
    assert report["counts"] == {"form_price_mismatch": 1, "words_mismatch": 1}
    assert report["proposed"] == {"price_fen": bill.price_fen + 100, "basis": ["words_prevail"],
                                  "source": "评标委员会和评标方法暂行规定 Art. 19"}


def test_unreadable_words_and_cells_are_reported_not_guessed():
    from openpyxl import load_workbook
    bill = clean()
    bill.words = "壹佰万元整整"
    book = load_workbook(io.BytesIO(to_xlsx(bill)))
    book["清单"]["E3"] = "十二元"  # row 3: the first line, under the header and the section heading
    out = io.BytesIO()
    book.save(out)
    report = check_bill(out.getvalue(), L, TENDER_INDEX, announced_fen=bill.price_fen)
    assert report["counts"] == {"unreadable": 1, "words_unreadable": 1}
    assert report["findings"]["unreadable"][0] == {"row": 3, "field": "unit_price"}


def test_numbers_stored_as_binary_doubles_read_as_typed():
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "清单"
    sheet.append(["code", "name", "unit", "q", "up", "total"])
    sheet.append(["0101", TENDER_INDEX[next(iter(TENDER_INDEX))].name, "m", 0.1, 3.3, 0.33])  # 0.1 × 3.3 = 0.33 exactly
    out = io.BytesIO()
    book.save(out)
    report = check_bill(out.getvalue(), parse_layout({k: v for k, v in LAYOUT.items() if k != "form"}), {},
                        announced_fen=33)
    assert report["counts"] == {"extra_item": 1} and report["stated_total_fen"] == "33"


# --- the reader, fuzzed ---------------------------------------------------------------------------------

CELL = st.one_of(st.none(), st.text(max_size=30), st.integers(-10 ** 12, 10 ** 12),
                 st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
                 st.decimals(allow_nan=False, allow_infinity=False, places=3).map(str))


@given(st.lists(st.lists(CELL, min_size=0, max_size=8), max_size=30), st.one_of(st.none(), st.text(max_size=30)))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_the_reader_never_fails_on_arbitrary_cells(rows, words):
    from openpyxl import Workbook
    book = Workbook()
    sheet = book.active
    sheet.title = "清单"
    for row in rows:
        sheet.append([_safe(c) for c in row])
    form = book.create_sheet("投标函")
    form["B2"], form["B3"] = _safe(words), _safe(rows[0][0] if rows and rows[0] else None)
    out = io.BytesIO()
    book.save(out)
    report = check_bill(out.getvalue(), L, TENDER_INDEX, announced_fen=100)
    assert report["lines"] >= 0 and set(report["counts"]) <= {
        "line_arithmetic", "decimal_misplaced", "section_total", "grand_total", "price_mismatch",
        "quantity_changed", "item_changed", "missing_item", "extra_item", "duplicate_item", "unreadable",
        "words_mismatch", "words_unreadable", "form_price_mismatch"}


def _safe(value):
    """openpyxl refuses control characters in strings; a bidder's Excel cannot write them either."""
    if isinstance(value, str):
        return "".join(ch for ch in value if ch.isprintable())
    return value


@given(st.binary(max_size=2000))
@settings(max_examples=40, deadline=None)
def test_bytes_that_are_not_a_workbook_are_a_clear_error(data):
    with pytest.raises(BillUnreadable) as caught:
        check_bill(data, L, TENDER_INDEX, announced_fen=100)
    assert caught.value.details["code"] == "bill_unreadable"


@given(st.integers(0, 400), st.integers(0, 255))
@settings(max_examples=30, deadline=None)
def test_a_corrupted_workbook_is_a_clear_error_or_a_report(position, byte):
    data = bytearray(to_xlsx(clean()))
    data[position * len(data) // 401] = byte
    try:
        report = check_bill(bytes(data), L, TENDER_INDEX, announced_fen=100)
    except PlatformError as exc:
        assert exc.details["code"] == "bill_unreadable"
    else:
        assert "counts" in report


def test_a_bad_layout_is_refused():
    for bad in ({}, {"columns": {"code": "A"}}, {**LAYOUT, "first_row": 0},
                {**LAYOUT, "columns": {**LAYOUT["columns"], "name": "A"}}, {**LAYOUT, "form": {"words": "B"}}):
        with pytest.raises(PlatformError):
            parse_layout(bad)


def test_a_workbook_that_inflates_beyond_the_bound_is_refused_before_it_is_parsed(monkeypatch):
    """A zip bomb: the bound is on the bytes the parts actually inflate to, counted as they stream."""
    from evaluation import bill_reader

    data = to_xlsx(clean())
    check_bill(data, L, TENDER_INDEX, announced_fen=100)  # within the real bound
    monkeypatch.setattr(bill_reader, "MAX_EXPANDED_BYTES", 20_000)
    with pytest.raises(BillUnreadable) as caught:
        check_bill(data, L, TENDER_INDEX, announced_fen=100)
    assert caught.value.details == {"reason": "its parts expand beyond 256 MiB", "code": "bill_unreadable"}


def test_a_zip_whose_directory_understates_a_part_is_refused():
    """The directory's sizes are the writer's word: a part that inflates to more than it declares fails
    its check instead of being trusted."""
    import struct
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"<x>" + b"0" * 100_000 + b"</x>")
    data = bytearray(out.getvalue())
    central = data.rindex(b"PK\x01\x02")
    struct.pack_into("<I", data, central + 24, 10)  # uncompressed size in the central directory: 10 bytes
    with pytest.raises(BillUnreadable):
        check_bill(bytes(data), L, TENDER_INDEX, announced_fen=100)


def test_cells_left_of_the_first_used_column_and_rows_above_it_keep_their_places():
    """The reader maps a row's cells to the layout's columns by absolute position, whatever the
    first used row and column of the sheet are."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "清单"
    sheet.cell(row=9, column=2, value="合计")  # B9: the name column; column A and rows 1-8 unused
    sheet.cell(row=9, column=6, value=1)  # F9: the total
    form = book.create_sheet("投标函")
    form["B2"], form["B3"] = "壹元整", 1
    out = io.BytesIO()
    book.save(out)
    report = check_bill(out.getvalue(), L, TENDER_INDEX, announced_fen=100)
    assert report["findings"]["grand_total"] == [{"row": 9, "stated": "1.00", "computed": "0.00"}]
