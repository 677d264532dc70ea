"""The supervisors' console at a 1280 px screen, with real entries: every column of the audit table
wide enough for what it holds. The entries are those of a whole evaluation set-up on the demo data
(``evaluation_setup.build_seated_session``: the draw, the session, sign-ins, confirmations, pledges)
and a failed sign-in (an alert), fed into the console by ``manage.py ticker``, once in Chinese and once in English.

What "wide enough" means, per cell of the first rows: nothing overflows its cell (no clipped or
overlapping text), an entry number, a time, an address, a tender number, a room and an object stay on
one line, no cell takes more than two lines, every header stays on one line and no column is narrower than
4 em; and the table fits the screen (no sideways scrolling at 1280 px)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import ticker_process
from tests.e2e.screen import check_screen
from tests.e2e.test_journey_opening import LOCALES, manage
from tests.e2e.test_pages_in_both_languages import sign_in

pytestmark = pytest.mark.e2e

SCHEDULER = {"zh-CN": "定时任务 · 平台", "en-US": "scheduler · Platform"}
ROWS = 40  # the rows measured: the newest, as the console shows them first

MEASURE = """(rows) => {
  const table = document.querySelector("#console table.grid");
  const scroller = table.closest(".scroll");
  const heads = [...table.querySelectorAll("thead th")];
  // The lines a cell's text takes: the distinct line boxes of its text (a cell is as tall as its row).
  const linesOf = (el) => {
    const range = document.createRange();
    range.selectNodeContents(el);
    const tops = [...range.getClientRects()].filter((r) => r.width > 0).map((r) => r.bottom);
    const apart = parseFloat(getComputedStyle(el).fontSize) * 0.8;  // a smaller font on the same line is no new line
    const lines = [];
    for (const b of tops.sort((x, y) => x - y)) if (!lines.length || b - lines[lines.length - 1] > apart) lines.push(b);
    return lines.length;
  };
  const columns = heads.map((th) => {
    return { name: th.textContent.trim(), width: th.getBoundingClientRect().width,
             em: parseFloat(getComputedStyle(th).fontSize),
             headLines: linesOf(th),
             headOverflow: th.scrollWidth > th.clientWidth + 1 };
  });
  const cells = [];
  for (const tr of [...table.querySelectorAll("#entries tr")].slice(0, rows)) {
    [...tr.children].forEach((td, i) => {
      if (!td.textContent.trim()) return;
      cells.push({ column: i, text: td.textContent.trim().slice(0, 60), lines: linesOf(td),
                   overflow: td.scrollWidth > td.clientWidth + 1 });
    });
  }
  return { columns, cells, tableWidth: table.getBoundingClientRect().width,
           scrolls: scroller.scrollWidth > scroller.clientWidth + 1, page: document.documentElement.scrollWidth };
}"""

ONE_LINE = {0, 1, 6, 7, 8, 9}  # #, time, address, tender, room, object ("评标会话 2" is one thing)


def column_problems(found: dict, width: int) -> list[str]:
    problems = []
    names = [c["name"] for c in found["columns"]]
    if found["scrolls"] or found["page"] > width:
        problems.append(f"the table ({found['tableWidth']:.0f} px) does not fit a {width} px screen")
    for c in found["columns"]:
        if c["headOverflow"]:
            problems.append(f"the header {c['name']!r} overflows its column ({c['width']:.0f} px)")
        if c["headLines"] > 1:
            problems.append(f"the header {c['name']!r} takes {c['headLines']} lines")
        if c["width"] < 4 * c["em"]:
            problems.append(f"the column {c['name']!r} is {c['width']:.0f} px wide, under 4 em")
    for cell in found["cells"]:
        name = names[cell["column"]]
        if cell["overflow"]:
            problems.append(f"{name}: {cell['text']!r} overflows its cell")
        most = 1 if cell["column"] in ONE_LINE else 2
        if cell["lines"] > most:
            problems.append(f"{name}: {cell['text']!r} takes {cell['lines']} lines (at most {most})")
    return sorted(set(problems))


def fail_to_sign_in(browser, base) -> None:
    """A wrong password on the sign-in page: an alert for the console (登录失败)."""
    context = browser.new_context(locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(base + "/login/")
        page.fill("#id_username", "no-such-user")  # no account locked for the suite
        page.fill("#id_password", "not the password")
        page.click("button[type=submit]")
        page.wait_for_selector(".error[role=alert]")
    finally:
        context.close()


@pytest.fixture(scope="module")
def entries(browser, platform_server):
    env = platform_server.env
    fail_to_sign_in(browser, platform_server)
    for _ in range(2):  # two sessions: enough entries for the measured rows
        manage(env, "shell", "-c", "from tests.e2e.evaluation_setup import build_seated_session; build_seated_session()")
    fail_to_sign_in(browser, platform_server)  # among the newest rows, which are measured
    count = json.loads(manage(env, "shell", "-c", "import json; from audit.models import AuditEntry; "
                                                 "print(json.dumps(AuditEntry.objects.count()))").strip().splitlines()[-1])
    assert count >= ROWS, count
    with ticker_process(env) as ticker:
        yield ticker


@pytest.mark.parametrize("locale", LOCALES)
def test_the_console_columns_fit_their_entries_at_1280_px(browser, platform_server, entries, locale):
    context, page = sign_in(browser, platform_server, "supervisor", locale)
    try:
        page.goto(platform_server + "/console/")
        page.wait_for_selector("#conn[data-state='connected']")
        page.wait_for_function(f"() => document.querySelectorAll('#entries tr').length >= {ROWS}", timeout=60_000)
        check_screen(page, f"{locale} the console with entries")
        # The platform's own processes by their label (their name small, for support), not as an
        # account name: "定时任务 · 平台", never "ticker · 平台".
        accounts = set(page.eval_on_selector_all("#entries td:nth-child(5) .user", "(els) => els.map((e) => e.textContent)"))
        assert not accounts & {"ticker", "audit.checkpoint", "evaluation.presence", "load_demo"}, accounts
        actors = page.eval_on_selector_all("#entries td:nth-child(5)", "(tds) => tds.map((td) => td.textContent)")
        assert SCHEDULER[locale] in " ".join(actors), actors[:10]
        found = page.evaluate(MEASURE, ROWS)
        page.screenshot(path=f"/tmp/console-{locale}.png", full_page=True)
        problems = column_problems(found, 1280)
        assert not problems, f"{locale} console at 1280 px:\n" + "\n".join(problems)
    finally:
        context.close()
