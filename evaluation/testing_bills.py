"""Generated priced bills for tests, the demo and the benchmark (nothing committed): the tender's
bill and bidders' priced copies, with errors planted on request. Written with openpyxl's
write-only mode so 5,000-line bills take a fraction of a second."""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from decimal import Decimal

from .rules.daxie import to_words

LAYOUT = {"sheet": "清单", "first_row": 2,
          "columns": {"code": "A", "name": "B", "unit": "C", "quantity": "D", "unit_price": "E", "total": "F"},
          "section_total_label": "小计", "grand_total_label": "合计",
          "form": {"sheet": "投标函", "words": "B2", "figure": "B3"}}
HEADER = ["项目编码", "项目名称", "计量单位", "工程量", "综合单价", "合价"]
UNITS = ["m3", "m2", "t", "个", "项", "m"]


@dataclass
class Line:
    code: str
    name: str
    unit: str
    quantity: Decimal
    unit_price: Decimal = Decimal(0)
    total: Decimal = Decimal(0)


@dataclass
class Bill:
    sections: list[tuple[str, list[Line]]]
    section_totals: list[Decimal] = field(default_factory=list)
    grand_total: Decimal = Decimal(0)
    words: str = ""
    figure: Decimal = Decimal(0)

    @property
    def price_fen(self) -> int:
        return int(self.grand_total * 100)


def tender_bill(lines: int, *, sections: int = 5, seed: int = 1) -> Bill:
    rnd = random.Random(seed)
    per = max(1, lines // sections)
    out, n = [], 0
    for s in range(sections):
        count = per if s < sections - 1 else lines - per * (sections - 1)
        items = []
        for _ in range(count):
            n += 1
            q = Decimal(rnd.randint(1, 500_000)).scaleb(-2)
            items.append(Line(f"0101{n:08d}", f"分项工程{n}", rnd.choice(UNITS), q))
        out.append((f"第{s + 1}部分", items))
    return Bill(out)


def priced(tender: Bill, *, seed: int = 2) -> Bill:
    """A clean priced copy: every line total is quantity × unit price to the fen (half up)."""
    rnd = random.Random(seed)
    sections, totals = [], []
    for name, items in tender.sections:
        priced_items = []
        for line in items:
            price = Decimal(rnd.randint(100, 2_000_000)).scaleb(-2)
            total = (line.quantity * price).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
            priced_items.append(Line(line.code, line.name, line.unit, line.quantity, price, total))
        sections.append((name, priced_items))
        totals.append(sum((i.total for i in priced_items), Decimal(0)))
    grand = sum(totals, Decimal(0))
    return Bill(sections, totals, grand, to_words(int(grand * 100)), grand)


def restate(bill: Bill) -> None:
    """Recompute the section and grand totals and the form from the lines (after a planted edit
    that should stay consistent above the line)."""
    bill.section_totals = [sum((i.total for i in items), Decimal(0)) for _, items in bill.sections]
    bill.grand_total = sum(bill.section_totals, Decimal(0))
    bill.words, bill.figure = to_words(bill.price_fen), bill.grand_total


def to_xlsx(bill: Bill, *, with_prices: bool = True) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("清单")
    sheet.append(HEADER)
    for (name, items), total in zip(bill.sections, bill.section_totals or [None] * len(bill.sections)):
        sheet.append([None, name])
        for line in items:
            row = [line.code, line.name, line.unit, str(line.quantity)]
            if with_prices:
                row += [str(line.unit_price), str(line.total)]
            sheet.append(row)
        if with_prices:
            sheet.append([None, "小计", None, None, None, str(total)])
    if with_prices:
        sheet.append([None, "合计", None, None, None, str(bill.grand_total)])
        form = book.create_sheet("投标函")
        form.append(["投标报价"])
        form.append(["大写", bill.words])
        form.append(["小写", str(bill.figure)])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
