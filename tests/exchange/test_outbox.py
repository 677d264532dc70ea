"""The transactional outbox against a real local HTTP receiver that fails, times out and recovers:
every event reaches each endpoint exactly once by its idempotency key, in order per tender, and
nothing is lost when the delivering process is killed (-9) between the commit and the delivery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.test import Client

from common import clock
from exchange import keys
from exchange.delivery import Sender, deliver_all
from exchange.events import emit
from exchange.models import Delivery, OutboxEvent
from tests.conftest import need_service

from .receiver import Receiver

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def receiver():
    r = Receiver(keys.public_key())
    yield r
    r.close()


@pytest.fixture
def endpoints(settings, receiver):
    settings.EXCHANGE_ENDPOINTS = [{"name": "public", "url": receiver.url("/public")},
                                   {"name": "supervision", "url": receiver.url("/supervision")}]
    settings.EXCHANGE_TIMEOUT_SECONDS = 1
    settings.EXCHANGE_MAX_ATTEMPTS = 4
    settings.EXCHANGE_BACKOFF_MS = 1000
    return settings.EXCHANGE_ENDPOINTS


def queue(n_tenders: int, per_tender: int, *, now) -> list[OutboxEvent]:
    events = []
    for i in range(per_tender):
        for t in range(n_tenders):
            events.append(emit("tender.amended", tender_id=1000 + t, payload={"number": i + 1}, now=now))
    return events


def drain(*, now, passes=60, step=timedelta(seconds=5)) -> None:
    sender = Sender()
    try:
        for _ in range(passes):
            deliver_all(now=now, sender=sender)
            if not Delivery.objects.filter(state="pending").exists():
                return
            now += step
    finally:
        sender.close()


def check_exactly_once_in_order(receiver: Receiver, events, paths=("/public", "/supervision")) -> None:
    for path in paths:
        kept = receiver.kept[path]
        assert sorted(e["id"] for e in kept) == sorted(str(e.key) for e in events), path
        by_tender: dict[int, list[int]] = {}
        for e in kept:
            by_tender.setdefault(e["tender"], []).append(e["number"])
        for numbers in by_tender.values():
            assert numbers == sorted(numbers), f"{path}: out of order {numbers}"


@pytest.mark.django_db
def test_an_event_commits_with_its_change_or_not_at_all(endpoints, people, make_lot):
    from bidding.actions import publish_lot
    from common.actor import Actor

    lot = make_lot(status="draft")
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            publish_lot(people["host"], Actor.of(people["host"]), lot.pk, now=clock.now())
            assert OutboxEvent.objects.filter(kind="tender.published").count() == 1
            raise RuntimeError("the change rolls back")
    assert not OutboxEvent.objects.exists() and not Delivery.objects.exists()
    publish_lot(people["host"], Actor.of(people["host"]), lot.pk, now=clock.now())
    event = OutboxEvent.objects.get(kind="tender.published")
    assert event.tender_id == lot.pk and event.payload["lot"]["code"] == lot.code
    assert sorted(Delivery.objects.values_list("endpoint", flat=True)) == ["public", "supervision"]


@pytest.mark.django_db
def test_pushes_fail_time_out_recover_and_arrive_exactly_once_in_order(endpoints, receiver):
    now = clock.now()
    events = queue(3, 4, now=now)
    receiver.fail_next = 3
    receiver.hang_next = 2  # longer than the sender's 1 s timeout
    drain(now=now)
    assert not Delivery.objects.exclude(state="delivered").exists()
    check_exactly_once_in_order(receiver, events)
    assert receiver.bad_signatures == 0
    retried = Delivery.objects.filter(attempts__gt=0)
    assert retried.exists() and all(d.delivered_at >= d.event.created_at for d in retried)


@pytest.mark.django_db
def test_a_push_retried_after_a_lost_answer_is_kept_once(endpoints, receiver):
    """The receiver stored the push but the answer was lost: the same idempotency key comes again."""
    now = clock.now()
    events = queue(1, 2, now=now)
    drain(now=now)
    Delivery.objects.update(state="pending")  # as if the process died before committing "delivered"
    drain(now=now)
    check_exactly_once_in_order(receiver, events)
    assert len([k for p, k in receiver.received if p == "/public"]) == 4  # twice on the wire, once kept


@pytest.mark.django_db
def test_a_dead_letter_holds_its_tender_back_and_an_administrator_retries_it(endpoints, receiver, people):
    now = clock.now()
    events = queue(2, 3, now=now)
    receiver.refuse_tender = 1000
    drain(now=now, passes=12, step=timedelta(minutes=1))
    dead = Delivery.objects.filter(state="dead")
    assert {(d.tender_id, d.event_id) for d in dead} == {(1000, events[0].pk)}  # the first of tender 1000, per endpoint
    assert dead.count() == 2
    held = Delivery.objects.filter(state="pending", tender_id=1000)
    assert held.count() == 4 and all(d.attempts == 0 for d in held)  # never sent out of order
    assert Delivery.objects.filter(tender_id=1001, state="delivered").count() == 6
    admin, host = Client(), Client()
    admin.force_login(people["admin"])
    host.force_login(people["host"])
    assert host.get("/api/v1/exchange/deliveries?state=dead").status_code == 403
    listed = admin.get("/api/v1/exchange/deliveries?state=dead").json()
    assert {d["id"] for d in listed} == set(dead.values_list("pk", flat=True))
    assert [(d["attempts"], d["last_error"]) for d in listed] == [(4, "HTTP 500")] * 2
    receiver.refuse_tender = None
    for d in listed:
        res = admin.post(f"/api/v1/exchange/deliveries/{d['id']}/retry")
        assert res.status_code == 200 and res.json()["state"] == "pending"
    assert admin.post(f"/api/v1/exchange/deliveries/{listed[0]['id']}/retry").status_code == 409
    drain(now=clock.now())
    check_exactly_once_in_order(receiver, events)
    from audit.models import AuditEntry

    assert AuditEntry.objects.filter(action="exchange.delivery.dead").count() == 2
    assert AuditEntry.objects.filter(action="exchange.delivery.retried").count() == 2


def _deliverer(settings, env_db: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"KAIBIAO_ENV", "DJANGO_SETTINGS_MODULE"}}
    env.update(DATABASE_URL=env_db, EXCHANGE_ENDPOINTS=json.dumps(settings.EXCHANGE_ENDPOINTS),
               EXCHANGE_SIGNING_KEY_FILE=str(settings.EXCHANGE_SIGNING_KEY_FILE), EXCHANGE_BACKOFF_MS="50",
               EXCHANGE_TIMEOUT_SECONDS="5", PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "manage.py", "exchange_deliver", "--batch", "5", "--idle", "0.05"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


@pytest.mark.django_db(transaction=True)
def test_nothing_is_lost_when_the_deliverer_is_killed(endpoints, receiver, settings):
    if connection.vendor != "postgresql":
        need_service("PostgreSQL", "the delivering process is another process on the same database")
    s = connection.settings_dict
    url = f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    events = queue(4, 10, now=clock.now())  # committed: this test runs outside a transaction
    receiver.delay = 0.02
    # Killed right after the commit, before any push: nothing may be lost.
    first = _deliverer(settings, url)
    time.sleep(0.05)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    # Killed in the middle of its pushes, more than once.
    for _ in range(3):
        proc = _deliverer(settings, url)
        deadline = time.monotonic() + 30
        before = len(receiver.received)
        while len(receiver.received) < before + 7 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    last = _deliverer(settings, url)
    try:
        deadline = time.monotonic() + 60
        while Delivery.objects.filter(state="pending").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        last.send_signal(signal.SIGTERM)
        last.wait(timeout=10)
    assert not Delivery.objects.exclude(state="delivered").exists()
    check_exactly_once_in_order(receiver, events)
    kept = sum(len(v) for v in receiver.kept.values())
    assert kept == 2 * len(events) <= len(receiver.received)
