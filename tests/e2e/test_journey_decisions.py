"""The committee's time-extension panel in the browser (Reg 48): the main venue's staff starts the
step clock from its page, two of the five experts — one at each venue — press "评标时间不够" in
theirs, and every open venue page (both venues' experts and staff) shows the claims and then the
same extended deadline, pushed live. One scenario, four browser contexts, no ticker: the committee
is seated beforehand in ``manage.py shell`` (``evaluation_setup.build_seated_session``). Once in
Chinese and once in English, every screen on the way passing the journeys' checks (tests/e2e/screen.py).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from tests.e2e.test_journey_evaluation import WAIT, Person, manage
from tests.e2e.test_journey_opening import LOCALES

pytestmark = pytest.mark.e2e

# What the panel says, in each language (the catalogue's words).
WORDS = {
    "zh-CN": {"short": "评标时间不够", "sent": "您已提出评标时间不够", "claims": "{total} 名成员中有 {n} 名",
              "codes": "{a}、{c}", "to": ("延长至", "（")},
    "en-US": {"short": "The time is insufficient", "sent": "You said the time is insufficient",
              "claims": "{n} of {total} members say", "codes": "{a}, {c}", "to": (" to ", " (")},
}


@pytest.fixture(params=LOCALES)
def seated(request, platform_server):
    out = manage(platform_server.env, "shell", "-c",
                 "from tests.e2e.evaluation_setup import build_seated_session; build_seated_session()")
    return {**json.loads(out.strip().splitlines()[-1]), "locale": request.param}


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
    locale = ev["locale"]
    words = WORDS[locale]
    claims = lambda n: words["claims"].format(n=n, total=5)  # noqa: E731
    at = lambda *args, **kwargs: Person(browser, base, *args, locale=locale, **kwargs)  # noqa: E731
    a = sorted(c for c, m in members.items() if m["venue"] == main)[0]
    c = sorted(c for c, m in members.items() if m["venue"] == sub)[0]
    pa = at(members[a]["cookie"], url(main))
    pc = at(members[c]["cookie"], url(sub), width=820)
    staff_main = at(ev["cookies"]["venue_320100"], url(main))
    staff_sub = at(ev["cookies"]["venue_320500"], url(sub), width=820)
    people = [pa, pc, staff_main, staff_sub]
    try:
        for p in people:
            p.step("chair_election")
            p.page.wait_for_selector('#conn[data-state="connected"], #conn[data-state="resynced"]', timeout=WAIT)
        # No clock yet: nothing to call insufficient.
        assert pa.page.is_hidden("#time-short") and deadline_of(pa) is None
        staff_main.check(f"{locale} main venue staff: the chair election, no clock")

        # The main venue's staff starts a 20-minute clock from its page.
        staff_main.page.fill("#clock-min", "20")
        staff_main.page.click("#clock-form button[type=submit]")
        for p in people:
            p.page.wait_for_function("() => Boolean(window.kbVenue.state().session.deadline)", timeout=WAIT)
        first = deadline_of(staff_main)
        assert all(deadline_of(p) == first for p in people)
        shown = staff_sub.page.inner_text("#deadline")
        for p in (pa, pc):
            assert p.page.is_visible("#time-short") and p.page.inner_text("#time-short") == words["short"]
        for p in (staff_main, staff_sub):
            assert p.page.is_hidden("#time-short")  # only members state it
        pc.check(f"{locale} expert at the sub venue: the step clock running")

        # One of five is not more than a third: the claim shows everywhere, the deadline stays.
        pa.page.click("#time-short")
        for p in people:
            p.page.wait_for_function("(text) => document.querySelector('#time-claims').textContent.includes(text)",
                                     arg=claims(1), timeout=WAIT)
        assert pa.page.is_disabled("#time-short") and pa.page.inner_text("#time-short") == words["sent"]
        pa.check(f"{locale} expert: the time said to be insufficient")
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
            before, after = words["to"]
            assert words["codes"].format(a=a, c=c) in record and before in record, record
            to_text = record.split(before, 1)[1].split(after, 1)[0].strip()
            shown_now = p.page.inner_text("#deadline")
            assert to_text in shown_now and shown_now != shown  # the page shows the new deadline
            # A further extension needs a new third: the claims start again, and the buttons with them.
            assert claims(0) in p.page.inner_text("#time-claims")
            p.check(f"{locale} {p.page.url}: the step extended", axe=p in (pa, staff_sub))
        pa.page.wait_for_function("() => !document.querySelector('#time-short').disabled", timeout=WAIT)
        for p in people:
            assert p.errors == [], p.errors
    finally:
        for p in people:
            p.close()
