"""The room log, the hub's ordering, backpressure, verify_action and the timers."""

import asyncio
import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction

from common import clock
from realtime.audience import Viewer, to_org, to_user
from realtime.demo import DemoRoom
from realtime.log import append_event, append_events, missing_events, positions, reset_epoch
from realtime.models import Room, RoomEvent, RoomTimer
from realtime.testing import verify_action
from realtime.timers import register_room_timer, run_due_timers, schedule_room_timer


@pytest.mark.django_db
def test_sequences_are_gap_free_per_room_and_per_stream():
    now = clock.now()
    for audience in ["all", to_org(7), "all", to_user(3), to_org(7)]:
        append_event("demo:log", "demo.posted", {"text": audience}, audience=audience, now=now)
    rows = list(RoomEvent.objects.order_by("seq").values_list("seq", "stream", "sseq"))
    assert rows == [(1, "all", 1), (2, "org:7", 1), (3, "all", 2), (4, "user:3", 1), (5, "org:7", 2)]
    assert Room.objects.get(key="demo:log").last_seq == 5
    room = Room.objects.get(key="demo:log")
    bidder = Viewer(user_id=3, org_id=8, role="bidder")
    assert positions(room, bidder) == {"all": 2, "user:3": 1}
    assert [r.seq for r in missing_events(room, bidder, {"all": 1}, limit=10)] == [3, 4]


@pytest.mark.django_db(transaction=True)
def test_events_appended_together_are_the_rows_and_doorbells_of_one_by_one(monkeypatch):
    rung = []
    monkeypatch.setattr("realtime.doorbell._ring", lambda channel, data: rung.append(data.split("\n", 1)[0]))
    now = clock.now()
    with transaction.atomic():
        append_event("demo:many", "demo.posted", {"n": 0}, now=now)
        append_event("demo:many", "demo.posted", {"n": 1}, audience=to_org(7), now=now)
        records = append_events("demo:many", "demo.posted", [{"n": 2}, {"n": 3}, {"n": 4}], now=now)
        assert append_events("demo:many", "demo.posted", [], now=now) == []
        assert rung == []  # after commit only
    rows = list(RoomEvent.objects.order_by("seq").values_list("seq", "stream", "sseq", "payload"))
    assert rows == [(1, "all", 1, {"n": 0}), (2, "org:7", 1, {"n": 1}), (3, "all", 2, {"n": 2}),
                    (4, "all", 3, {"n": 3}), (5, "all", 4, {"n": 4})]
    assert Room.objects.get(key="demo:many").last_seq == 5
    assert [(r.seq, r.sseq) for r in records] == [(3, 2), (4, 3), (5, 4)]
    epoch = Room.objects.get(key="demo:many").epoch
    assert rung == [f"e demo:many {epoch} {seq} {stream} {sseq}" for seq, stream, sseq, _ in rows]
    with pytest.raises(ValueError):
        append_events("demo:many", "Bad Event", [{}], now=now)
    with pytest.raises(RuntimeError), transaction.atomic():
        append_events("demo:many", "demo.posted", [{"n": 5}], now=now)
        raise RuntimeError("the state change failed")
    assert RoomEvent.objects.count() == 5 and len(rung) == 5


@pytest.mark.django_db
def test_an_event_rolls_back_with_its_transaction_and_is_never_rung(monkeypatch):
    rung = []
    monkeypatch.setattr("realtime.doorbell._ring", lambda channel, data: rung.append(data))
    with pytest.raises(RuntimeError), transaction.atomic():
        append_event("demo:rb", "demo.posted", {}, now=clock.now())
        raise RuntimeError("the state change failed")
    assert not RoomEvent.objects.exists() and rung == []


@pytest.mark.django_db
def test_bad_names_are_refused():
    for kwargs in [{"room_key": "no colon"}, {"event": "Bad Event"}, {"audience": "org:x"}]:
        args = {"room_key": "demo:x", "event": "demo.ok", "audience": "all"} | kwargs
        with pytest.raises(ValueError):
            append_event(args["room_key"], args["event"], {}, audience=args["audience"], now=clock.now())


@pytest.mark.django_db
def test_verify_action_holds_for_every_viewer_of_the_demo_room(people):
    kind = DemoRoom()
    alice, bob = people["alice"], people["bob"]
    viewers = [kind.viewer(alice, "bidder"), kind.viewer(bob, "bidder"), kind.viewer(people["supervisor"], "supervisor")]
    append_event("demo:v", "demo.posted", {"text": "first"}, now=clock.now())

    def act():
        now = clock.now()
        append_event("demo:v", "demo.posted", {"text": "to bob"}, audience=to_org(bob.organisation_id), now=now)
        append_event("demo:v", "demo.posted", {"text": "to all"}, now=now)

    emitted = verify_action(kind, "demo:v", viewers, act)
    assert [p["payload"]["text"] for p in emitted[viewers[0]]] == ["to all"]
    assert [p["payload"]["text"] for p in emitted[viewers[1]]] == ["to bob", "to all"]
    assert len(emitted[viewers[2]]) == 2


@pytest.mark.django_db
def test_verify_action_catches_a_kind_whose_snapshot_hides_what_it_emits(people):
    class Leaky(DemoRoom):
        def snapshot(self, room_key, viewer):
            return {"posts": []}

    kind = Leaky()
    with pytest.raises(AssertionError):
        verify_action(kind, "demo:w", [kind.viewer(people["alice"], "bidder")],
                      lambda: append_event("demo:w", "demo.posted", {"text": "x"}, now=clock.now()))


async def test_the_hub_delivers_in_seq_order_whatever_order_the_doorbells_ring(settings):
    from realtime.hub import Hub, HubRoom, Item

    settings.RT_REORDER_WAIT_SECONDS = 10  # no database repair here: only the reordering
    hub = Hub(asyncio.get_running_loop())
    room = hub.rooms["demo:o"] = HubRoom("demo:o")
    room.epoch, room.delivered = "e1", 0
    room.ready.set()
    got = []

    class M:
        presence_watch = False

        def offer(self, item):
            got.append(item.seq)

    room.members.add(M())
    for seq in [2, 3, 1, 1, 5, 4, 2]:
        hub._on_event(room, Item(seq, "e1", "all", seq, f"f{seq}"))
    assert got == [1, 2, 3, 4, 5]
    if room.repair_handle:
        room.repair_handle.cancel()


async def test_a_slow_socket_overflows_into_a_resync_never_a_silent_drop():
    from realtime.transport import QueuedSender

    gate = asyncio.Event()
    sent, overflowed = [], []

    async def slow_send(message):
        await gate.wait()
        sent.append(message)

    sender = QueuedSender(slow_send, 1000, lambda: overflowed.append(True))
    for i in range(20):
        sender.send_text("x" * 100)
    assert overflowed  # told, so the connection sends resync and closes (4409)
    gate.set()
    await asyncio.sleep(0.01)
    assert len(sent) == 20  # what was queued still goes out, in order


@pytest.mark.django_db
def test_a_timer_fires_once_and_a_failing_one_is_retried(people, monkeypatch):
    from realtime import timers

    monkeypatch.setattr(timers, "_TIMERS", {})  # count only the room timers scheduled here
    fired = []
    register_room_timer("test.close_window", lambda t, now: fired.append(t.pk))

    def boom(t, now):
        raise RuntimeError("not yet")

    register_room_timer("test.boom", boom)
    now = clock.now()
    due = schedule_room_timer("demo:t", "test.close_window", now - timedelta(seconds=1))
    later = schedule_room_timer("demo:t", "test.close_window", now + timedelta(hours=1))
    bad = schedule_room_timer("demo:t", "test.boom", now)
    assert run_due_timers(now) == 1
    assert run_due_timers(now) == 0
    assert fired == [due.pk]
    due.refresh_from_db(), later.refresh_from_db(), bad.refresh_from_db()
    assert due.next_check is None and due.fire_count == 1 and later.fire_count == 0
    assert bad.next_check == now and bad.fire_count == 0


@pytest.mark.django_db(transaction=True)
def test_two_tickers_apply_each_timer_exactly_once_on_postgresql(people):
    if connection.vendor != "postgresql":
        from tests.conftest import need_service

        need_service("PostgreSQL", "DATABASE_URL does not point at PostgreSQL")
    import time

    def apply(timer, now):
        time.sleep(0.002)  # widen the window two tickers could both take the row in
        append_event(timer.room_key, "demo.posted", {"timer": timer.pk}, now=now)

    register_room_timer("test.race", apply)
    now = clock.now()
    for i in range(60):
        schedule_room_timer("demo:race", "test.race", now - timedelta(seconds=i))
    counts, errors = [], []

    def ticker():
        from django.db import connection as conn

        try:
            for _ in range(5):
                counts.append(run_due_timers(clock.now(), batch=7))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            conn.close()

    threads = [threading.Thread(target=ticker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and sum(counts) == 60
    assert list(RoomTimer.objects.values_list("fire_count", flat=True).distinct()) == [1]
    payloads = sorted(p["timer"] for p in RoomEvent.objects.values_list("payload", flat=True))
    assert payloads == sorted(RoomTimer.objects.values_list("pk", flat=True))


@pytest.mark.django_db
def test_the_ticker_command_runs_once(capsys):
    from django.core.management import call_command

    call_command("ticker", "--once")
    assert "applied" in capsys.readouterr().out
