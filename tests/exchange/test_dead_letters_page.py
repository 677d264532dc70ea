"""The dead-letter page for administrators: the pushes given up with their last error, in Chinese and
English with Beijing time; its retry is the API's action (same refusals, audited with old and new
values); nobody else sees it."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client

from audit.models import AuditEntry
from common import clock
from exchange.delivery import Sender, deliver_all
from exchange.events import emit
from exchange.models import Delivery

pytestmark = pytest.mark.django_db


def make_dead(settings, n=2):
    """Real pushes to a port nobody listens on, given up after one attempt."""
    settings.EXCHANGE_ENDPOINTS = [{"name": "js-supervision", "url": "http://127.0.0.1:9/push"}]
    settings.EXCHANGE_MAX_ATTEMPTS, settings.EXCHANGE_TIMEOUT_SECONDS = 1, 1
    now = clock.now().replace(hour=16, minute=30, second=0, microsecond=0)  # 00:30 the next day in Beijing
    events = [emit("tender.amended", tender_id=2000 + i, payload={"number": 1}, now=now) for i in range(n)]
    sender = Sender()
    try:
        deliver_all(now=now, sender=sender)
    finally:
        sender.close()
    dead = list(Delivery.objects.filter(state="dead").order_by("event_id"))
    assert len(dead) == n
    return events, dead, now


def client_for(user):
    c = Client()
    c.force_login(user)
    return c


def test_administrators_see_the_dead_letters_and_retry_one_through_the_action(people, settings):
    events, dead, when = make_dead(settings)
    admin = client_for(people["admin"])
    page = admin.get("/exchange/dead-letters/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "推送失败的事件" in page
    assert dead[0].last_error and dead[0].last_error in page  # the last error, as recorded
    assert "js-supervision" in page and f'data-delivery="{dead[1].pk}"' in page
    beijing = (when + timedelta(hours=8))
    assert beijing.strftime("%Y年%m月%d日 %H:%M") in page and when.strftime("%H:%M") not in page.split("<tbody>")[1]
    english = admin.get("/exchange/dead-letters/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Pushes given up (dead letters)" in english and "Tender amended" in english

    res = admin.post("/exchange/dead-letters/", {"delivery": dead[0].pk})
    assert res.status_code == 302
    d = Delivery.objects.get(pk=dead[0].pk)
    assert d.state == "pending" and d.attempts == 0
    [entry] = AuditEntry.objects.filter(action="exchange.delivery.retried")
    data = json.loads(entry.body)["data"]
    assert data["state"] == ["dead", "pending"] and data["attempts"] == [1, 0]
    assert entry.actor_name == "admin"
    after = admin.get(res["Location"], HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f'data-delivery="{dead[0].pk}"' not in after and f'data-delivery="{dead[1].pk}"' in after
    assert f"第 {dead[0].pk} 号推送已重新放回队列" in after
    # The same refusal as the API: a delivery no longer dead is not retried (409, in the page's words).
    again = admin.post("/exchange/dead-letters/", {"delivery": dead[0].pk}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert again.status_code == 409 and 'role="alert"' in again.content.decode()
    assert admin.post("/exchange/dead-letters/", {"delivery": "x"}).status_code == 404
    assert AuditEntry.objects.filter(action="exchange.delivery.retried").count() == 1


@pytest.mark.parametrize("who", ["host", "supervisor", "alice"])
def test_nobody_else_sees_or_retries_them(people, settings, who):
    _, dead, _ = make_dead(settings, n=1)
    c = client_for(people[who])
    assert c.get("/exchange/dead-letters/").status_code == 403
    assert c.post("/exchange/dead-letters/", {"delivery": dead[0].pk}).status_code == 403
    assert Delivery.objects.get(pk=dead[0].pk).state == "dead"
    assert Client().get("/exchange/dead-letters/").status_code == 302  # to the sign-in page
