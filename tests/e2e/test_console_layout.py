"""The supervisors' console at a 1280 × 800 screen, in Chinese and in English, with the widest entries
the audit log can hold and those a real run leaves.

The entries: every action code once and the longest codes again, with an account name of 32
characters, an organisation of 40 Chinese characters, a 45-character IPv6 address, 64-character
object ids and each of the platform's own processes (``console_setup.seed_worst_case``, through
``log_action``, over 200 rows); then what a run of the journeys leaves: a whole evaluation set-up on
the demo data (``evaluation_setup.build_seated_session``), failed sign-ins (alerts) and a bidder
refused the console (an access denial on ``http:/console/``). ``manage.py ticker`` feeds them into the
console. The test has a server and database of its own: the seeded entries never reach the other
browser tests, nor the guide's screenshots of the console.

What "usable" means, over every row shown: the page does not scroll sideways and the table fits
its container; no cell's content overflows or is clipped unless the clipped element ends in an
ellipsis (``text-overflow`` or a line clamp) and carries the full text in its ``title``; the actor
and organisation take at most two visible lines; no header overflows its column; and the screen
passes ``check_screen`` (no raw code, no UTC time, the page's language, axe)."""

from __future__ import annotations

import json

import pytest

from tests.e2e.conftest import _server_env, demo_platform, ticker_process
from tests.e2e.screen import check_screen
from tests.e2e.test_journey_opening import LOCALES, manage
from tests.e2e.test_pages_in_both_languages import sign_in

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1280, 800
MIN_ROWS = 200
SCHEDULER = {"zh-CN": "定时任务 · 平台", "en-US": "Scheduler · Platform"}
ACTOR, ORGANISATION = 4, 5  # the columns (from 0) whose cells take at most two lines

MEASURE = """() => {
  const table = document.querySelector("#console table.grid");
  const box = table.closest(".scroll");
  const norm = (s) => (s || "").replace(/\\s+/g, " ").trim();
  // The line boxes of a cell's text that a person sees: rects hidden by an element that clips
  // (a line clamp, an ellipsis) do not count; a smaller font on the same line is no new line.
  const linesOf = (cell) => {
    const bottoms = [];
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const clips = [];
      for (let el = n.parentElement; el && el !== cell.parentElement; el = el.parentElement) {
        if (getComputedStyle(el).overflowY !== "visible") clips.push(el.getBoundingClientRect());
      }
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) {
        const mid = (r.top + r.bottom) / 2;
        if (r.width > 0 && clips.every((c) => mid >= c.top && mid <= c.bottom)) bottoms.push(r.bottom);
      }
    }
    const apart = parseFloat(getComputedStyle(cell).fontSize) * 0.8;
    const lines = [];
    for (const b of bottoms.sort((x, y) => x - y)) if (!lines.length || b - lines[lines.length - 1] > apart) lines.push(b);
    return lines.length;
  };
  // An element whose content does not fit it: wider than it (spilling into the next cell, or cut
  // off), or taller while it clips. Fine only when it says so with an ellipsis and its title.
  const overflows = (cell) => {
    const out = [];
    for (const el of [cell, ...cell.querySelectorAll("*")]) {
      const s = getComputedStyle(el);
      const clips = s.overflowX !== "visible";
      const wide = el.scrollWidth > el.clientWidth + 1;
      const tall = clips && el.scrollHeight > el.clientHeight + 1;
      if (!wide && !tall) continue;
      const ellipsis = clips && (s.textOverflow === "ellipsis" || (s.webkitLineClamp && s.webkitLineClamp !== "none"));
      const titled = norm(el.getAttribute("title")).includes(norm(el.textContent));
      if (!(ellipsis && titled)) {
        out.push(`${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} ${wide ? "wider" : "taller"}`
                 + ` (${el.scrollWidth}×${el.scrollHeight} in ${el.clientWidth}×${el.clientHeight})`
                 + (ellipsis ? ", no title with its full text" : ", no ellipsis"));
      }
    }
    return out;
  };
  const heads = [...table.querySelectorAll("thead th")].map((th) => ({
    name: norm(th.textContent), width: th.getBoundingClientRect().width,
    overflow: th.scrollWidth > th.clientWidth + 1 }));
  const cells = [];
  for (const tr of table.querySelectorAll("#entries tr")) {
    [...tr.children].forEach((td, i) => {
      if (!norm(td.textContent)) return;
      cells.push({ column: i, text: norm(td.textContent).slice(0, 70), lines: linesOf(td), overflows: overflows(td) });
    });
  }
  return { heads, cells, rows: table.querySelectorAll("#entries tr").length,
           table: table.getBoundingClientRect().width, box: box.clientWidth,
           page: document.documentElement.scrollWidth };
}"""


def layout_problems(found: dict) -> list[str]:
    problems = []
    if found["page"] > WIDTH:
        problems.append(f"the page is {found['page']} px wide at a {WIDTH} px screen")
    if found["table"] > found["box"] + 1:
        problems.append(f"the table ({found['table']:.0f} px) is wider than its container ({found['box']} px)")
    names = [h["name"] for h in found["heads"]]
    for head in found["heads"]:
        if head["overflow"]:
            problems.append(f"the header {head['name']!r} overflows its column ({head['width']:.0f} px)")
    for cell in found["cells"]:
        name = names[cell["column"]]
        for what in cell["overflows"]:
            problems.append(f"{name}: {cell['text']!r}: {what}")
        if cell["column"] in (ACTOR, ORGANISATION) and cell["lines"] > 2:
            problems.append(f"{name}: {cell['text']!r} takes {cell['lines']} lines (at most 2)")
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


def refused_the_console(browser, base) -> None:
    """A bidder opening the console: refused, and the refusal audited (``accounts.access.denied``)."""
    context, page = sign_in(browser, base, "bidder2", "zh-CN")
    try:
        assert page.goto(base + "/console/").status == 403
    finally:
        context.close()


def shell_json(env, code: str) -> dict:
    return json.loads(manage(env, "shell", "-c", code, timeout=300).strip().splitlines()[-1])


@pytest.fixture(scope="module")
def console_server(chromium_path, tmp_path_factory):
    """The platform with the demo data, as the session's server, on a database of its own."""
    var_dir = tmp_path_factory.mktemp("console-var")
    with demo_platform(_server_env(var_dir), var_dir) as base:
        yield base


@pytest.fixture(scope="module")
def entries(browser, console_server):
    env = console_server.env
    seeded = shell_json(env, "from tests.e2e.console_setup import seed_worst_case; seed_worst_case()")
    assert seeded["written"] >= MIN_ROWS, seeded
    fail_to_sign_in(browser, console_server)
    manage(env, "shell", "-c", "from tests.e2e.evaluation_setup import build_seated_session; build_seated_session()",
           timeout=300)
    refused_the_console(browser, console_server)
    fail_to_sign_in(browser, console_server)
    with ticker_process(env):
        yield seeded


@pytest.mark.parametrize("locale", LOCALES)
def test_the_console_fits_a_1280_px_screen_with_the_widest_entries(browser, console_server, entries, locale):
    context, page = sign_in(browser, console_server, "supervisor", locale)
    try:
        page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
        page.goto(console_server + "/console/")
        page.wait_for_selector("#conn[data-state='connected']")
        # Every seeded entry and the run's newest (the bidder refused the console) are on the screen.
        page.wait_for_function(
            """([rows, ip]) => { const tbody = document.getElementById("entries");
                 return tbody.rows.length >= rows && tbody.textContent.includes(ip)
                        && [...tbody.querySelectorAll("td")].some((td) => td.textContent.includes("/console/")); }""",
            arg=[MIN_ROWS, entries["ip"]], timeout=120_000)
        check_screen(page, f"{locale} the console with the widest entries")
        # The platform's own processes by their label (their name small, for support), never as an
        # account name.
        accounts = set(page.eval_on_selector_all("#entries td:nth-child(5) .user", "(els) => els.map((e) => e.textContent)"))
        assert not accounts & {"ticker", "audit.checkpoint", "evaluation.presence", "load_demo"}, accounts
        actors = page.eval_on_selector_all("#entries td:nth-child(5)", "(tds) => tds.map((td) => td.textContent)")
        assert SCHEDULER[locale] in " ".join(actors), actors[:10]
        page.locator("#console .scroll").evaluate("(el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 60)")
        page.screenshot(path=f"/tmp/console-layout-{locale}.png")  # the table as a person sees it
        page.locator("#entries tr", has_text=entries["org"][:10]).first.evaluate(
            "(el) => window.scrollTo(0, el.getBoundingClientRect().top + window.scrollY - 20)")
        page.screenshot(path=f"/tmp/console-layout-{locale}-widest.png")  # the seeded rows
        found = page.evaluate(MEASURE)
        assert found["rows"] >= MIN_ROWS, found["rows"]
        problems = layout_problems(found)
        print(f"{locale}: page {found['page']} px, table {found['table']:.0f} px in {found['box']} px, "
              f"{found['rows']} rows, {len(problems)} problems")
        assert not problems, f"{locale} console at {WIDTH} px ({len(problems)} problems):\n" + "\n".join(problems[:60])
    finally:
        context.close()
