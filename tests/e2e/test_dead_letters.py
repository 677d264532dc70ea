"""An administrator reads the outbox's dead letters in Chinese and in English (Beijing time, no raw
code, no serious accessibility violation: tests/e2e/screen.py) and puts one back in the queue from
the page; the retry is the API's action, audited."""

from __future__ import annotations

import json

import pytest

from tests.e2e.screen import check_screen
from tests.e2e.test_journey_opening import PASSWORD, WAIT, manage

pytestmark = pytest.mark.e2e

# Real pushes to a port nobody listens on, given up after one attempt (the outbox's own path).
MAKE_DEAD = """
import json
from django.conf import settings
from django.db import transaction
from common import clock
from exchange.delivery import Sender, deliver_all
from exchange.events import emit
from exchange.models import Delivery
from bidding.models import Lot
settings.EXCHANGE_ENDPOINTS = [{"name": "js-supervision", "url": "http://127.0.0.1:9/push"}]
settings.EXCHANGE_MAX_ATTEMPTS, settings.EXCHANGE_TIMEOUT_SECONDS = 1, 1
with transaction.atomic():  # two queues: one tender's later events would wait behind its first
    for tender in (Lot.objects.order_by("pk").first().pk, None):
        emit("tender.amended", tender_id=tender, payload={"number": 1}, now=clock.now())
sender = Sender()
deliver_all(now=clock.now(), sender=sender)
sender.close()
print(json.dumps(list(Delivery.objects.filter(state="dead").order_by("event_id").values_list("pk", flat=True))))
"""

AUDITED = """
import json
from audit.models import AuditEntry
from exchange.models import Delivery
print(json.dumps({"entries": [json.loads(e.body)["data"] for e in AuditEntry.objects.filter(action="exchange.delivery.retried")],
                  "states": dict(Delivery.objects.values_list("pk", "state"))}))
"""


def last_json(out: str):
    return json.loads(out.strip().splitlines()[-1])


def test_an_administrator_reads_and_retries_the_dead_letters(browser, platform_server):
    env = platform_server.env
    dead = last_json(manage(env, "shell", "-c", MAKE_DEAD))
    assert len(dead) >= 2
    for locale in ("zh-CN", "en-US"):
        context = browser.new_context(locale=locale, timezone_id="Asia/Shanghai",
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(WAIT)
        try:
            page.goto(platform_server + "/login/")
            page.fill("#id_username", "admin")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(lambda url: "/login/" not in url)
            page.click("nav >> text=" + ("推送失败" if locale == "zh-CN" else "Dead letters"))
            page.wait_for_selector("#dead-letters")
            check_screen(page, f"{locale} dead letters")
            rows = page.locator("tr[data-delivery]")
            assert rows.count() >= 1
            if locale == "zh-CN":
                first = dead[0]
                row = page.locator(f'tr[data-delivery="{first}"]')
                assert "北京时间" in page.inner_text("thead")
                assert row.locator("code").inner_text().strip()  # the last error, as recorded
                row.get_by_role("button").click()
                page.wait_for_selector("p[role=status]")
                assert f"第 {first} 号推送已重新放回队列" in page.inner_text("p[role=status]")
                assert page.locator(f'tr[data-delivery="{first}"]').count() == 0
                check_screen(page, "zh-CN dead letters after a retry")
            else:
                assert "Last error" in page.inner_text("thead")
        finally:
            context.close()
    audited = last_json(manage(env, "shell", "-c", AUDITED))
    assert audited["states"][str(dead[0])] == "pending" and audited["states"][str(dead[1])] == "dead"
    assert [e["state"] for e in audited["entries"]] == [["dead", "pending"]]
    assert audited["entries"][0]["attempts"] == [1, 0]
