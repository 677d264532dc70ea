"""Every role's pages in Chinese and in English, as each person reaches them: none may show a raw
code, a UTC time, English on a Chinese page, or a serious accessibility violation (tests/e2e/screen.py);
a form sent with mistakes answers next to its fields in the page's language. The journeys walk the
same pages through the whole job; this tour also covers the pages they pass quickly."""

from __future__ import annotations

import json

import pytest

from tests.e2e.screen import check_screen
from tests.e2e.test_journey_opening import PASSWORD, WAIT, manage, shot

pytestmark = pytest.mark.e2e

FIND = """
import json
from bidding.models import Lot
lot = Lot.objects.get(project__code="NJSZ-2026-0188", code="01")
print(json.dumps({"lot": lot.pk}))
"""

ROLES = {
    "bidder1": ["/", "/tenders/", "/keys/", "/tenders/{lot}/", "/tenders/{lot}/bid/", "/tenders/{lot}/receipt/",
                "/tenders/{lot}/hall/"],
    "host": ["/tenders/", "/tenders/new/", "/certificates/", "/tenders/{lot}/", "/tenders/{lot}/hall/",
             "/tenders/{ev_lot}/evaluation/"],
    "expert01": ["/evaluation/"],
    "venue_320100": ["/evaluation/"],
    "supervisor": ["/console/", "/evaluation/", "/tenders/{lot}/hall/"],
}
READY = {"/keys/": "#keys-page[data-ready='1']", "/bid/": "#submit-page[data-ready='1']",
         "/hall/": "main h1", "/console/": "#conn[data-state='connected']",
         "/venues/": "#venue[data-step]"}


@pytest.fixture(scope="module")
def places(platform_server):
    env = platform_server.env
    found = json.loads(manage(env, "shell", "-c", FIND).strip().splitlines()[-1])
    seated = json.loads(manage(env, "shell", "-c", "from tests.e2e.evaluation_setup import build_seated_session; "
                                                  "build_seated_session()").strip().splitlines()[-1])
    return {"lot": found["lot"], "ev_lot": seated["lot"], "session": seated}


def sign_in(browser, base, username, locale):
    context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(WAIT)
    page.goto(base + "/login/")
    check_screen(page, f"{locale} login")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return context, page


def visit(page, base, path, where):
    page.goto(base + path)
    for part, selector in READY.items():
        if part in path:
            page.wait_for_selector(selector)
    page.wait_for_load_state("networkidle")
    check_screen(page, where)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
def test_every_role_page_reads_right(browser, platform_server, places, locale):
    base = platform_server
    english = locale.startswith("en")
    for username, paths in ROLES.items():
        context, page = sign_in(browser, base, username, locale)
        try:
            assert page.evaluate("document.documentElement.lang") == ("en" if english else "zh-hans")
            for path in paths:
                visit(page, base, path.format(**places), f"{locale} {username} {path}")
            if username == "host":
                # A tender form sent with mistakes: the problems in this language, next to the fields.
                page.goto(base + "/tenders/new/")
                page.fill("#id_project_code", "E2E-LANG")
                page.fill("#id_project_title", "语言测试项目")
                page.select_option("#id_tenderee", index=1)
                page.fill("#id_lot_title", "施工")
                page.fill("#id_bid_deadline", "2030-01-01T10:00")
                page.fill("#id_signin_opens_at", "2031-01-01T10:00")  # after the deadline: the server says so
                page.click("main form button[type=submit]")
                page.wait_for_selector("#id_signin_opens_at_error")
                message = page.inner_text("#id_signin_opens_at_error")
                assert message == ("must not be after the bid deadline" if english else "不能晚于投标截止时间"), message
                assert page.input_value("#id_project_code") == "E2E-LANG"
                check_screen(page, f"{locale} host: tender form with mistakes")
                if not english:
                    shot(page, "host-01-tender-form-errors", check=False)
            if username == "venue_320100":
                s = places["session"]
                visit(page, base, f"/evaluation/{s['session']}/venues/{s['main']}/", f"{locale} venue staff room")
        finally:
            context.close()
    # The experts' and the supervisor's venue rooms.
    s = places["session"]
    for code, member in list(s["members"].items())[:1]:
        context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai")
        try:
            context.add_cookies([{"name": "sessionid", "value": member["cookie"], "url": base}])
            page = context.new_page()
            visit(page, base, f"/evaluation/{s['session']}/venues/{member['venue']}/", f"{locale} expert {code}")
        finally:
            context.close()
