"""A remote cross-region evaluation in the browser: a main venue and a sub venue, each with its
experts' and staff's pages in their own browser contexts (two experts and the staff at the main
venue, one expert and the staff at the sub venue; the other two members act over their own
WebSockets from Python). Sign-in confirmed by the staff, pledge, chair election, compliance review,
scoring with validation (暗标: codes only), the sub venue going offline locks the main venue's page
and coming back resumes it (what was typed survives), a returned score corrected, the ranking, the
report signed from the browser (Ed25519 in WebCrypto), one written dissent, the PDF checked with
``pdftotext``; the host follows it from the lot's set-up page to the report. Once in Chinese and once
in English, every screen on the way passing the journeys' checks (tests/e2e/screen.py); the Chinese run
takes the screenshots, docs/screenshots/venue_*.png.

The session is built on the demo data with ``manage.py shell`` (``evaluation_setup.build_session``);
``manage.py ticker`` runs next to the server with a short venue-drop time for the lock.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import need_tool
from tests.e2e.conftest import ticker_process, ROOT
from tests.e2e.evaluation_setup import Remote
from tests.e2e.screen import check_screen, text_problems, wrapped_headers
from tests.e2e.test_journey_opening import LOCALES, SHOTS, WORDS, shot

pytestmark = pytest.mark.e2e

WAIT = 30_000


def confirm_member(page, code: str) -> None:
    """The venue staff confirm a member's identity, as a person would: click, and click again if the
    button is still there after a while (the member table is redrawn on every push, and a click
    can land on the row being replaced). The confirmation is idempotent on the page's side: the
    button only exists while the member is unconfirmed."""
    selector = f'[data-confirm="{code}"]'
    for _ in range(3):
        page.click(selector, timeout=WAIT)
        try:
            page.wait_for_selector(selector, state="detached", timeout=8_000)
            return
        except Exception:  # noqa: BLE001 - still there: say what the page said, then try again
            print(f"confirm {code}: still unconfirmed; the page says {page.inner_text('#confirm-status')!r}")
    page.wait_for_selector(selector, state="detached", timeout=WAIT)
SCORES = {"T1": "18.5", "T2": "36", "B1": "8.5"}  # everyone; expert B's T1 for B01 differs (then corrected)
DISSENT = "对B02的技术评分有不同意见：施工组织设计评分偏高。"


def manage(env, *args, extra_env=None, timeout=120) -> str:
    res = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**env, **(extra_env or {})},
                         capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


@pytest.fixture(scope="module")
def eval_ticker(platform_server):
    # The venue lock and the signing deadline are timers; a venue counts as down after 3 s here.
    env = {**platform_server.env, "EVAL_VENUE_DROP_SECONDS": "3", "EVAL_PRESENCE_CHECK_MS": "500"}
    with ticker_process(env) as proc:
        yield proc


@pytest.fixture(params=LOCALES)
def evaluation(request, platform_server, eval_ticker):
    out = manage(platform_server.env, "shell", "-c",
                 "from tests.e2e.evaluation_setup import build_session; build_session()",
                 extra_env={"EVAL_PRESENCE_CHECK_MS": "500"})
    return {**json.loads(out.strip().splitlines()[-1]), "locale": request.param}


class Person:
    def __init__(self, browser, base, cookie, url, *, width=1280, locale="zh-CN"):
        self.context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai",
                                           viewport={"width": width, "height": 900})
        self.context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.goto(base + url)
        self.page.wait_for_selector("#venue[data-step]", timeout=WAIT)

    def step(self, step: str) -> None:
        self.page.wait_for_selector(f'#venue[data-step="{step}"]', timeout=WAIT)

    def check(self, where: str, *, axe: bool = True) -> None:
        check_screen(self.page, where, axe=axe)
        if self.page.viewport_size["width"] >= 1280:  # the venues' screen: every column wide enough for its name
            wrapped = wrapped_headers(self.page, "#venue table thead th")
            assert not wrapped, f"{where}: headers broken over lines at 1280 px: {wrapped}"

    def close(self) -> None:
        self.context.close()


def test_remote_evaluation_in_two_venues(browser, platform_server, evaluation):
    base = platform_server
    ev = evaluation
    sid, main, sub = ev["session"], ev["main"], ev["sub"]
    url = lambda venue: f"/evaluation/{sid}/venues/{venue}/"  # noqa: E731
    room = lambda venue: f"venue:{sid}:{venue}"  # noqa: E731
    members = ev["members"]
    main_codes = sorted(c for c, m in members.items() if m["venue"] == main)
    sub_codes = sorted(c for c, m in members.items() if m["venue"] == sub)
    assert len(main_codes) == 3 and len(sub_codes) == 2
    a, b, r1 = main_codes
    c, r2 = sub_codes
    bidders = ev["bidders"]
    locale = ev["locale"]
    at = lambda *args, **kwargs: Person(browser, base, *args, locale=locale, **kwargs)  # noqa: E731

    # The list page links each person to their venue.
    staff_sub = at(ev["cookies"]["venue_320500"], url(sub), width=820)
    staff_sub.page.goto(base + "/evaluation/")
    check_screen(staff_sub.page, f"{locale} venue staff: the evaluation sessions")
    staff_sub.page.click(f'a[href="{url(sub)}"]')
    staff_sub.page.wait_for_selector("#venue[data-step]", timeout=WAIT)

    pa = at(members[a]["cookie"], url(main))
    pb = at(members[b]["cookie"], url(main))
    pc = at(members[c]["cookie"], url(sub), width=820)  # a tablet
    staff_main = at(ev["cookies"]["venue_320100"], url(main))
    people = [pa, pb, pc, staff_main, staff_sub]
    experts = {a: pa, b: pb, c: pc}
    remotes = {r1: Remote(base, members[r1]["cookie"], room(main)),
               r2: Remote(base, members[r2]["cookie"], room(sub))}
    try:
        # The connection state is always visible.
        for p in people:
            p.page.wait_for_selector('#conn[data-state="connected"], #conn[data-state="resynced"]', timeout=WAIT)
        pa.check(f"{locale} expert: the venue room before sign-in")
        # A replacement is the staff's task: an expert sees no empty form for it (nor its box while
        # there is none to show).
        assert pa.page.is_hidden("#replace-box") and pc.page.is_hidden("#replace-box")
        assert staff_main.page.is_visible("#replace-form")
        # Too early for the next step: the refusal says why and names the members, in words.
        staff_main.page.click("#next-step")
        staff_main.page.wait_for_selector("#drive-status:not(:empty)", timeout=WAIT)
        refused = staff_main.page.inner_text("#drive-status")
        assert all(code in refused for code in main_codes + sub_codes) and "{" not in refused, refused
        staff_main.check(f"{locale} main venue staff: the next step refused", axe=False)

        # --- sign-in, confirmed by each venue's staff ------------------------------------------------
        for p in experts.values():
            p.page.click("#sign-in")
        for code, r in remotes.items():
            r.call("eval.sign_in")
        for staff, codes in ((staff_main, main_codes), (staff_sub, sub_codes)):
            for code in codes:
                confirm_member(staff.page, code)
        staff_sub.page.wait_for_function(
            "[...document.querySelectorAll('[data-confirm]')].length === 0", timeout=WAIT)
        # Other venues see codes only: the sub venue's staff page shows no main-venue names.
        row = staff_sub.page.inner_text(f'#members tr[data-member="{a}"]')
        assert "—" in row
        shot(staff_sub.page, "venue_staff_signin")
        pc.page.wait_for_selector("#signin-state:not(:empty)")
        pc.check(f"{locale} expert: signed in and confirmed", axe=False)
        staff_main.page.wait_for_function(
            f"document.querySelectorAll('#members tr').length === 5", timeout=WAIT)
        staff_main.page.click("#next-step")
        for p in people:
            p.step("pledge")
        pb.check(f"{locale} expert: the pledge")

        # --- pledge, chair election -------------------------------------------------------------------
        for p in experts.values():
            p.page.click("#pledge")
        for r in remotes.values():
            r.call("eval.pledge")
        staff_main.page.wait_for_function("[...document.querySelectorAll('#members tr td:nth-child(6)')]"
                                          ".every((td) => td.textContent === '✓')", timeout=WAIT)
        staff_main.page.click("#next-step")
        for p in experts.values():
            p.step("chair_election")
            p.page.check(f'input[name=chair-candidate][value="{a}"]')
            p.page.click("#vote-chair")
            p.page.wait_for_selector("#vote-state:not(:empty)", timeout=WAIT)
        for r in remotes.values():
            r.call("eval.vote_chair", {"candidate": a})
        pa.page.wait_for_selector("#chair-panel:not([hidden])", timeout=WAIT)
        pa.check(f"{locale} expert: elected chair")
        # The chair drives from now on as well; the staff moves on here.
        staff_main.page.click("#next-step")

        # --- compliance review ------------------------------------------------------------------------
        for p in experts.values():
            p.step("compliance")
            for radio in p.page.query_selector_all('input[type=radio][value="pass"]'):
                radio.check()
            for bidder in bidders:
                p.page.click(f'form.compliance[data-bidder="{bidder}"] button[type=submit]')
                p.page.wait_for_selector(f'form.compliance[data-bidder="{bidder}"] caption .badge:not(:empty)',
                                         timeout=WAIT)
        pc.check(f"{locale} expert: the compliance review")
        for r in remotes.values():
            for bidder in bidders:
                for crit in ("资格审查", "符合性审查"):
                    r.call("eval.vote_compliance", {"bidder": bidder, "criterion": crit, "passed": True})
        staff_main.page.click("#next-step")

        # --- scoring, validated in the page ---------------------------------------------------------
        for p in experts.values():
            p.step("scoring")
        page = pa.page
        first = bidders[0]
        page.fill(f"#s-{first}-T1", "12.3")
        assert page.inner_text(f"#s-{first}-T1-err") != ""  # not a multiple of 0.5
        page.fill(f"#s-{first}-T1", "20.5")
        assert page.inner_text(f"#s-{first}-T1-err") != ""  # above the maximum
        page.fill(f"#s-{first}-T1", "0.1")
        assert page.get_attribute(f"#s-{first}-T1", "aria-invalid") == "true"
        # Two cells invalid: no total that could be misread (never 0.1 + 57.2 = 57.3).
        page.fill(f"#s-{first}-T2", "57.2")
        assert page.inner_text(f"#s-{first}-total") == "—"
        pa.check(f"{locale} expert: scores with mistakes")
        # Exact decimal sums (0.5 + 0.5 + 0.5 … never 1.4999…).
        page.fill(f"#s-{first}-T1", "19.5")
        page.fill(f"#s-{first}-T2", "30.5")
        page.fill(f"#s-{first}-B1", "0.5")
        assert page.inner_text(f"#s-{first}-total") == "50.5"
        # 暗标: codes only, no names or prices before the ranking.
        table = page.inner_text("#bidders")
        assert all(name not in table for name in ev["names"].values())

        def score(p, code):
            for bidder in bidders:
                values = dict(SCORES)
                if code == b and bidder == first:
                    values["T1"] = "15"  # an objective item scored differently: an alert
                for item, value in values.items():
                    p.page.fill(f"#s-{bidder}-{item}", value)
                p.page.click(f'form.sheet[data-bidder="{bidder}"] button[type=submit]')
                p.page.wait_for_selector(f'form.sheet[data-bidder="{bidder}"] caption .badge[data-saved="1"]',
                                         timeout=WAIT)

        score(pa, a)
        score(pb, b)
        shot(pb.page, "venue_expert_scoring")
        staff_main.check(f"{locale} main venue staff: the scoring under way")

        # --- the sub venue drops: the main venue's page locks, and resumes when it is back --------------
        pc.page.fill(f"#s-{first}-T2", "33.5")  # typed, not yet saved
        remotes.pop(r2).close()  # the sub venue's other member has left the room for now
        for p in (pc, staff_sub):
            # Offline emulation keeps an open socket alive in Chromium: drop it as a network cut
            # would, while new connections fail until the network is back.
            p.context.set_offline(True)
            p.page.evaluate("() => window.kbVenue.client.ws.close()")
        pc.page.wait_for_selector('#conn[data-state="reconnecting"]', timeout=WAIT)
        lock = pa.page.wait_for_selector("#lock:not([hidden])", timeout=WAIT)
        text = lock.inner_text()
        assert ev["sub_name"] in text and c in text and r2 in text
        assert pa.page.is_disabled(f'form.sheet[data-bidder="{first}"] button[type=submit]')
        staff_main.page.wait_for_selector("#lock:not([hidden])", timeout=WAIT)
        shot(pa.page, "venue_lock_banner")
        with pytest.raises(RuntimeError, match="invalid_state"):
            remotes[r1].call("eval.score", {"bidder": first, "values": SCORES})
        for p in (pc, staff_sub):
            p.context.set_offline(False)
        pa.page.wait_for_selector("#lock", state="hidden", timeout=WAIT)
        pa.page.wait_for_selector("#resumed:not([hidden])", timeout=WAIT)
        pc.page.wait_for_selector('#conn[data-state="connected"], #conn[data-state="resynced"]', timeout=WAIT)
        assert pc.page.input_value(f"#s-{first}-T2") == "33.5"  # nothing lost on screen
        assert not pa.page.is_disabled(f'form.sheet[data-bidder="{first}"] button[type=submit]')

        remotes[r2] = Remote(base, members[r2]["cookie"], room(sub))
        score(pc, c)
        for r in remotes.values():
            for bidder in bidders:
                r.call("eval.score", {"bidder": bidder, "values": SCORES})
        staff_main.page.wait_for_function(
            "[...document.querySelectorAll('#members tr td:nth-child(7)')].every((td) => td.textContent === '3')",
            timeout=WAIT)
        staff_main.page.click("#next-step")

        # --- summary: an alert, a returned score, its correction ---------------------------------------
        for p in experts.values():
            p.step("summary")
        pa.page.wait_for_selector('#alerts [data-alert="objective_inconsistent"]', timeout=WAIT)
        pa.check(f"{locale} chair: the summary with an alert")
        pa.page.select_option("#ret-member", b)
        pa.page.select_option("#ret-bidder", first)
        pa.page.select_option("#ret-item", "T1")
        pa.page.select_option("#ret-reason", "objective_inconsistent")
        pa.page.click("#return-form button[type=submit]")
        pb.page.wait_for_selector(f'form.returned[data-bidder="{first}"]', timeout=WAIT)
        pb.page.fill(f"#corr-{first}", "18.5")
        pb.page.click(f'form.returned[data-bidder="{first}"] button[type=submit]')
        pa.page.wait_for_selector("#corrections li", timeout=WAIT)
        pc.page.wait_for_selector("#corrections li", timeout=WAIT)  # every venue sees the same summary
        pb.check(f"{locale} expert: a returned score corrected")
        assert pa.page.inner_text("#summary") == pc.page.inner_text("#summary")
        pa.page.click("#next-step")  # the chair drives
        for p in experts.values():
            p.step("ranking")
        # The ranking ends the blind review: names appear.
        pa.page.wait_for_function(f"document.querySelector('#bidders').textContent.includes({json.dumps(ev['names'][first])})",
                                  timeout=WAIT)
        pc.check(f"{locale} expert: the ranking")
        staff_main.page.click("#next-step")

        # --- the report, signed in the browser ---------------------------------------------------------
        for p in experts.values():
            p.step("signing")
            p.page.click("#sign")
            p.page.wait_for_selector("#sign-box", state="hidden", timeout=WAIT)
        remotes[r1].call("eval.dissent", {"reason": DISSENT})
        pr2 = at(members[r2]["cookie"], url(sub))  # the last member signs on their own device
        people.append(pr2)
        pr2.page.click("#sign")
        pr2.page.wait_for_selector("#sign-box", state="hidden", timeout=WAIT)
        pa.page.wait_for_function("[...document.querySelectorAll('#signatures .badge')].filter("
                                  "(b) => b.textContent !== '' ).length === 5 && "
                                  f"document.querySelector('#signatures [data-member=\"{r2}\"] .badge').textContent"
                                  f" !== document.querySelector('#signatures [data-member=\"{r1}\"] .badge').textContent",
                                  timeout=WAIT)
        shot(pa.page, "venue_report_signing")
        report_hash = pa.page.inner_text("#report-hash")
        pa.page.click("#next-step")
        for p in experts.values():
            p.step("done")
        pa.check(f"{locale} chair: the evaluation done")
        staff_sub.check(f"{locale} sub venue staff: the evaluation done", axe=False)

        # The supervisor's window into the sub venue: everything visible, no forms.
        sup = at(ev["cookies"]["supervisor"], url(sub))
        people.append(sup)
        sup.step("done")
        sup.check(f"{locale} supervisor: the sub venue's room")
        assert sup.page.is_hidden("#me") and sup.page.is_hidden("#drive") and sup.page.is_hidden("#chair-panel")
        assert sup.page.inner_text("#report-hash") == report_hash

        # The report PDF, as the chair downloads it: in Chinese whatever the page's language, so the
        # Chinese run reads it (WeasyPrint lays out every table: slow).
        if locale == "zh-CN":
            res = pa.context.request.get(f"{base}/api/v1/evaluation/sessions/{sid}/report.pdf",
                                         timeout=120_000)  # WeasyPrint lays out every table: slow on a busy machine
            assert res.ok and res.body()[:4] == b"%PDF"
            pdf = SHOTS.parent / f".venue-report-{os.getpid()}.pdf"
            pdf.write_bytes(res.body())
            try:
                text = subprocess.run([need_tool("pdftotext"), str(pdf), "-"], capture_output=True, text=True,
                                      check=True).stdout
            finally:
                pdf.unlink()
            problems = text_problems(text, chinese=True)  # a record in Chinese: labels, Beijing time, no codes
            assert not problems, "the evaluation report PDF:\n" + "\n".join(problems)
            assert "北京时间" in text
            flat = "".join(text.split())
            assert report_hash in flat
            assert "施工组织设计评分偏高" in flat  # the dissent's written reasons (a table cell may wrap)
            assert "已签名" in flat and "持不同意见" in flat
            assert ev["names"][first] in flat

        # The host follows the session from the lot's set-up page and reaches the report.
        host = browser.new_context(locale=locale, timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
        try:
            host.add_cookies([{"name": "sessionid", "value": ev["cookies"]["host"], "url": base}])
            hp = host.new_page()
            hp.goto(f"{base}/tenders/{ev['lot']}/evaluation/")
            hp.wait_for_selector("#report-pdf")
            assert hp.inner_text("#session-step") == WORDS[locale]["step_done"]
            shot(hp, "host-06-report-ready")
            assert hp.get_attribute("#report-pdf", "href") == f"/api/v1/evaluation/sessions/{sid}/report.pdf"
        finally:
            host.close()
        for p in people:
            assert p.errors == [], p.errors
    finally:
        for r in remotes.values():
            r.close()
        for p in people:
            p.close()
