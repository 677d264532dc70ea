"""The committee's time-extension panel in the browser (Reg 48): the main venue's staff starts the
step clock from its page, two of the five experts — one at each venue — press "评标时间不够" in
theirs, and every open venue page (both venues' experts and staff) shows the claims and then the
same extended deadline, pushed live. One scenario, four browser contexts, no ticker: the committee
is seated beforehand in ``manage.py shell`` (``evaluation_setup.build_seated_session``).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.e2e.test_journey_evaluation import WAIT, Person, manage

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def seated(platform_server):
    out = manage(platform_server.env, "shell", "-c",
                 "from tests.e2e.evaluation_setup import build_seated_session; build_seated_session()")
    return json.loads(out.strip().splitlines()[-1])


def deadline_of(person) -> str | None:
    return person.page.evaluate("() => window.kbVenue.state().session.deadline")


def parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))


def test_two_of_five_experts_find_the_time_insufficient_and_every_venue_sees_the_extension(
        browser, platform_server, seated):
    base, ev = platform_server, seated
    sid, main, sub = ev["session"], ev["main"], ev["sub"]
    url = lambda venue: f"/evaluation/{sid}/venues/{venue}/"  # noqa: E731
    members = ev["members"]
    a = sorted(c for c, m in members.items() if m["venue"] == main)[0]
    c = sorted(c for c, m in members.items() if m["venue"] == sub)[0]
    pa = Person(browser, base, members[a]["cookie"], url(main))
    pc = Person(browser, base, members[c]["cookie"], url(sub), width=820)
    staff_main = Person(browser, base, ev["cookies"]["venue_320100"], url(main))
    staff_sub = Person(browser, base, ev["cookies"]["venue_320500"], url(sub), width=820)
    people = [pa, pc, staff_main, staff_sub]
    try:
        for p in people:
            p.step("chair_election")
            p.page.wait_for_selector('#conn[data-state="connected"], #conn[data-state="resynced"]', timeout=WAIT)
        # No clock yet: nothing to call insufficient.
        assert pa.page.is_hidden("#time-short") and deadline_of(pa) is None

        # The main venue's staff starts a 20-minute clock from its page.
        staff_main.page.fill("#clock-min", "20")
        staff_main.page.click("#clock-form button[type=submit]")
        for p in people:
            p.page.wait_for_function("() => Boolean(window.kbVenue.state().session.deadline)", timeout=WAIT)
        first = deadline_of(staff_main)
        assert all(deadline_of(p) == first for p in people)
        shown = staff_sub.page.inner_text("#deadline")
        for p in (pa, pc):
            assert p.page.is_visible("#time-short") and p.page.inner_text("#time-short") == "评标时间不够"
        for p in (staff_main, staff_sub):
            assert p.page.is_hidden("#time-short")  # only members state it

        # One of five is not more than a third: the claim shows everywhere, the deadline stays.
        pa.page.click("#time-short")
        for p in people:
            p.page.wait_for_function("() => document.querySelector('#time-claims').textContent.includes('5 名成员中有 1 名')",
                                     timeout=WAIT)
        assert pa.page.is_disabled("#time-short") and pa.page.inner_text("#time-short") == "您已提出评标时间不够"
        assert not pc.page.is_disabled("#time-short")
        assert all(deadline_of(p) == first for p in people)
        assert staff_sub.page.inner_text("#time-extensions") == ""

        # The second, at the other venue: two of five, the step gets 30 more minutes in every venue.
        pc.page.click("#time-short")
        for p in people:
            p.page.wait_for_selector("#time-extensions li", timeout=WAIT)
        extended = deadline_of(pa)
        assert parse(extended) - parse(first) == timedelta(minutes=30)
        for p in people:
            assert deadline_of(p) == extended
            record = p.page.inner_text("#time-extensions li")
            assert f"{a}、{c}" in record and "延长至" in record
            to_text = record.split("延长至", 1)[1].split("（", 1)[0].strip()
            shown_now = p.page.inner_text("#deadline")
            assert to_text in shown_now and shown_now != shown  # the page shows the new deadline
            # A further extension needs a new third: the claims start again, and the buttons with them.
            assert "5 名成员中有 0 名" in p.page.inner_text("#time-claims")
        pa.page.wait_for_function("() => !document.querySelector('#time-short').disabled", timeout=WAIT)
        for p in people:
            assert p.errors == [], p.errors
    finally:
        for p in people:
            p.close()
