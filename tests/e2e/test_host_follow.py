"""The host follows the evaluation from the lot's set-up page without reloading it (issue 20): with
the page open, the session moves on through the venues' actions (run by the test): a member signs in
and is confirmed, everyone reaches scoring, a member saves the scores, the report is made and a
member records a dissent; each shows on the host's page within a few seconds, the page never
reloaded, every state passing the journeys' screen checks. Once in Chinese and once in English."""

from __future__ import annotations

import json

import pytest

from tests.e2e.screen import check_screen
from tests.e2e.test_journey_evaluation import manage
from tests.e2e.test_journey_opening import LOCALES

pytestmark = pytest.mark.e2e

SOON = 15_000  # a few seconds: the page asks every 3 s; the machine is shared
WORDS = {"zh-CN": {"scoring": "评分", "signing": "报告签署", "dissent": "持不同意见"},
         "en-US": {"scoring": "Scoring", "signing": "Report signing", "dissent": "Dissented"}}


@pytest.fixture(params=LOCALES)
def followed(request, platform_server):
    out = manage(platform_server.env, "shell", "-c",
                 "from tests.e2e.evaluation_setup import build_session; build_session()")
    return {**json.loads(out.strip().splitlines()[-1]), "locale": request.param}


def test_the_host_page_follows_the_session_without_a_reload(browser, platform_server, followed):
    base, ev = platform_server, followed
    sid, locale = ev["session"], ev["locale"]
    first = sorted(ev["members"])[0]
    shell = lambda code: manage(platform_server.env, "shell", "-c",  # noqa: E731
                                f"from tests.e2e import follow_setup as f; {code}")
    context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    try:
        context.add_cookies([{"name": "sessionid", "value": ev["cookies"]["host"], "url": base}])
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        loads: list[str] = []
        page.on("load", lambda: loads.append(page.url))
        page.goto(f"{base}/tenders/{ev['lot']}/evaluation/")
        page.wait_for_selector('#session-step[data-step="sign_in"]')
        row = f'#follow-panel tr[data-member="{first}"]'
        assert page.inner_text(f"{row} td:nth-child(3)").strip() == "—"
        check_screen(page, f"{locale} host follow: sign-in")

        shell(f"f.sign_in({sid}, {first!r})")
        page.wait_for_function("(sel) => document.querySelector(sel).textContent.trim() !== '—'",
                               arg=f"{row} td:nth-child(3)", timeout=SOON)
        assert page.inner_text(f"{row} td:nth-child(4)").strip() != "—"  # the identity confirmed

        shell(f"f.to_scoring({sid}); f.score({sid}, {first!r})")
        page.wait_for_selector('#session-step[data-step="scoring"]', timeout=SOON)
        assert page.inner_text("#session-step") == WORDS[locale]["scoring"]
        page.wait_for_function("(sel) => document.querySelector(sel).textContent.trim() === '3'",
                               arg=f"{row} [data-scored]", timeout=SOON)  # three bids scored
        check_screen(page, f"{locale} host follow: scoring")

        shell(f"f.to_signing({sid}); f.dissent({sid}, {first!r})")
        page.wait_for_selector("#report-pdf", timeout=SOON)
        assert page.inner_text("#session-step") == WORDS[locale]["signing"]
        page.wait_for_function("([sel, word]) => document.querySelector(sel).textContent.trim() === word",
                               arg=[f"{row} [data-signature]", WORDS[locale]["dissent"]], timeout=SOON)
        check_screen(page, f"{locale} host follow: the report to sign")
        assert len(loads) == 1, loads  # never reloaded
        assert errors == [], errors
    finally:
        context.close()
