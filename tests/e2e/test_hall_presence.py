"""Issue #7 in the browser: a bidder's hall page shows whether the host is online, live, as an
accessible status ("主持人在线 / 主持人离线"), and its WebSocket never carries anything of the other
bidder (the hall's presence view for bidders holds the host side only)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e
WAIT = 30_000
BADGE = "#host-presence"


@pytest.fixture(scope="module")
def setup(platform_server) -> dict:
    res = subprocess.run([sys.executable, "manage.py", "shell", "-c",
                          "from tests.e2e.hall_setup import build_hall; build_hall()"],
                         cwd=ROOT, env=platform_server.env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


class Person:
    """A signed-in browser context on the hall page, with the WebSocket frames it received."""

    def __init__(self, browser, base: str, cookie: str, lot: int):
        self.context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai")
        self.context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.frames: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))
        self.page.set_default_timeout(WAIT)
        self.page.goto(f"{base}/tenders/{lot}/hall/")

    def _frame(self, payload) -> None:
        self.frames.append(payload if isinstance(payload, str) else payload.decode("utf-8", "replace"))

    def sign_in(self) -> None:
        self.page.click("#signin")
        self.page.wait_for_selector("#hall[data-ready='1']")

    def host_shown(self, online: bool) -> str:
        self.page.wait_for_selector(f"{BADGE}[data-online='{int(online)}']")
        return self.page.inner_text(BADGE)


def test_a_bidder_sees_the_host_come_and_go_live(browser, platform_server, setup):
    base, lot, cookies = platform_server, setup["lot"], setup["cookies"]
    people = []
    try:
        bidder = Person(browser, base, cookies["bidder4"], lot)
        people.append(bidder)
        assert bidder.page.is_hidden(BADGE)  # not known before signing in to the room
        bidder.sign_in()
        assert bidder.host_shown(False) == "主持人离线"
        status = bidder.page.get_by_role("status").filter(has_text="主持人")
        assert status.count() == 1 and status.get_attribute("aria-live") == "polite"

        host = Person(browser, base, cookies["host"], lot)
        people.append(host)
        host.page.wait_for_selector("#hall[data-ready='1']")
        assert bidder.host_shown(True) == "主持人在线"
        assert host.page.locator(BADGE).count() == 0  # the host has the full list instead
        host.page.wait_for_function(
            "document.querySelectorAll('#presence li[data-role=bidder]').length === 1")

        other = Person(browser, base, cookies["bidder5"], lot)
        people.append(other)
        other.sign_in()
        assert other.host_shown(True) == "主持人在线"
        host.page.wait_for_function(
            "document.querySelectorAll('#presence li[data-role=bidder]').length === 2")

        host.context.close()
        people.remove(host)
        assert bidder.host_shown(False) == "主持人离线"
        again = Person(browser, base, cookies["host"], lot)
        people.append(again)
        assert bidder.host_shown(True) == "主持人在线"

        received = "\n".join(bidder.frames)
        assert '"presence"' in received
        for secret in (*setup["orgs"]["bidder5"], "bidder5"):
            assert secret not in received and secret not in bidder.page.content()
        presence = [json.loads(f)["presence"] for f in bidder.frames if '"presence"' in f]
        assert all(set(p) == {"host"} for p in presence)
        for person in people:
            assert not person.errors, person.errors
    finally:
        for person in people:
            person.context.close()
