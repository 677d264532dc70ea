"""The 3-day answer deadline of an objection (实施条例 54), applied by the ticker on a moved clock:
before it nothing happens; once it has passed the host is reminded, the supervisors see the alert
(console, reminders, the outbox's event), the objector sees it is overdue, the award stays
suspended; the reminder is made once, audited, and a late answer is marked late."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command

from audit.alerts import classify
from audit.console import entry_summary
from audit.models import AuditEntry
from award.models import Objection
from common import clock
from exchange.models import OutboxEvent
from realtime.timers import run_due_timers
from tests.award.test_flow import client_for, post, reason

pytestmark = pytest.mark.django_db


def publish_and_object(sc, start):
    lot = sc.lot
    with time_machine.travel(start, tick=False):
        assert post(client_for(sc.host), f"/api/v1/lots/{lot.pk}/publicity", {"days": 3}).status_code == 201
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        res = post(client_for(sc.bidder_users["B01"]), f"/api/v1/lots/{lot.pk}/objections",
                   {"grounds": "第一中标候选人业绩造假", "contact": "李四 13900000000"})
    assert res.status_code == 201, res.content
    return res.json()


def overdue_entries(lot):
    return list(AuditEntry.objects.filter(tender_id=lot.pk, action="award.objection.overdue").order_by("index"))


def test_the_ticker_reminds_once_the_answer_deadline_passes_and_the_award_stays_suspended(evaluated, settings):
    settings.EXCHANGE_ENDPOINTS = [{"name": "supervision", "url": "http://127.0.0.1:9/x"}]
    sc, start = evaluated, clock.now()
    lot = sc.lot
    objection = publish_and_object(sc, start)
    due = Objection.objects.get(pk=objection["id"]).answer_due
    assert due == start + timedelta(hours=1, days=3)

    # At the deadline itself the answer is still in time: no reminder.
    run_due_timers(due - timedelta(seconds=1))
    run_due_timers(due)
    assert overdue_entries(lot) == [] and Objection.objects.get(pk=objection["id"]).overdue_at is None
    with time_machine.travel(due - timedelta(minutes=1), tick=False):
        assert client_for(sc.host).get("/api/v1/award/reminders").json() == []

    # The ticker (the production loop's one round) passes the deadline: reminded once, audited.
    with time_machine.travel(due + timedelta(seconds=5), tick=False):
        call_command("ticker", "--once")
        call_command("ticker", "--once")  # a second round reminds nobody again
    [entry] = overdue_entries(lot)
    data = json.loads(entry.body)["data"]
    assert data["overdue_at"][0] is None and data["overdue_at"][1]
    assert data["reminded"] == [sc.host.pk] and data["award"] == "suspended"
    assert entry.actor_name == "ticker"
    # Supervisors: the console's alert, and the event for the supervision platform.
    assert entry_summary(entry)["alert"]["code"] == "objection_overdue" == classify(entry.action).code
    event = OutboxEvent.objects.get(tender_id=lot.pk, kind="award.objection_overdue")
    assert event.payload["objection"] == objection["id"] and "grounds" not in json.dumps(event.payload)

    with time_machine.travel(due + timedelta(hours=1), tick=False):
        host, supervisor = client_for(sc.host), client_for(sc.supervisor)
        # The reminder: to the host (its tenders) and the supervisors (all); nobody else.
        assert [o["id"] for o in host.get("/api/v1/award/reminders").json()] == [objection["id"]]
        assert [o["id"] for o in supervisor.get("/api/v1/award/reminders").json()] == [objection["id"]]
        assert client_for(sc.bidder_users["B01"]).get("/api/v1/award/reminders").status_code == 403
        assert client_for().get("/api/v1/award/reminders").status_code == 401
        # The objector sees its objection overdue; the public page shows the reminder to each in its words.
        mine = client_for(sc.bidder_users["B01"]).get(f"/api/v1/lots/{lot.pk}/objections").json()
        assert mine[0]["overdue_at"] == data["overdue_at"][1]
        page = host.get(f"/tenders/{lot.pk}/publicity/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "逾期未答复" in page and "定标暂停" in page
        page = supervisor.get(f"/tenders/{lot.pk}/publicity/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
        assert "not answered in time" in page
        page = client_for(sc.bidder_users["B01"]).get(f"/tenders/{lot.pk}/publicity/",
                                                      HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
        assert "投诉" in page  # 实施条例 60: the objector may complain to the supervisors
        page = client_for(sc.bidder_users["B02"]).get(f"/tenders/{lot.pk}/publicity/").content.decode()
        assert "not answered in time" not in page and "逾期未答复" not in page  # not its objection
        # What the law says follows: the procedure stays suspended — no award, the period over or not.
        res = post(host, f"/api/v1/lots/{lot.pk}/award", {})
        assert res.status_code == 409 and reason(res) == "objection_open"
        assert res.json()["error"]["details"]["overdue"] == 1
        # The late answer lifts the suspension, marked late; the reminder list empties.
        res = post(host, f"/api/v1/award/objections/{objection['id']}/answer", {"answer": "经核查，业绩属实。"})
        assert res.status_code == 200
        assert host.get("/api/v1/award/reminders").json() == []
        assert post(host, f"/api/v1/lots/{lot.pk}/award", {}).status_code == 201
    answered = AuditEntry.objects.get(tender_id=lot.pk, action="award.objection.answered")
    assert json.loads(answered.body)["data"]["late"] is True
    assert len(overdue_entries(lot)) == 1


def test_an_answer_in_time_leaves_nothing_to_remind_and_a_held_clock_holds_the_reminder(evaluated, monkeypatch):
    from common import clocksync

    sc, start = evaluated, clock.now()
    first = publish_and_object(sc, start)
    due = Objection.objects.get(pk=first["id"]).answer_due
    with time_machine.travel(due - timedelta(hours=1), tick=False):
        assert post(client_for(sc.host), f"/api/v1/award/objections/{first['id']}/answer",
                    {"answer": "已核实"}).status_code == 200
    run_due_timers(due + timedelta(days=1))
    assert overdue_entries(sc.lot) == []
    # A second objection, unanswered; while the server's clock is unsynchronised the deadline is held.
    with time_machine.travel(start + timedelta(days=2), tick=False):
        second = post(client_for(sc.bidder_users["B02"]), f"/api/v1/lots/{sc.lot.pk}/objections",
                      {"grounds": "评分有误", "contact": "王五"}).json()
    late = Objection.objects.get(pk=second["id"]).answer_due + timedelta(minutes=1)
    run_due_timers(late, hold_deadlines=True)
    assert overdue_entries(sc.lot) == []
    run_due_timers(late)
    assert [json.loads(e.body)["data"]["objection"] for e in overdue_entries(sc.lot)] == [second["id"]]
