"""The clock's synchronisation state (common/clocksync.py): read from chrony or systemd, reported by
``/healthz`` and the console, and the ticker holding the deadlines — with an audited alert — while
the clock is known to be off (docs/operations.md, "Time")."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.test import Client

from audit.alerts import classify
from audit.models import AuditEntry
from bidding.models import Lot, Opening
from common import clocksync, metrics
from common.clocksync import Reading, judge, parse_chronyc_tracking, parse_timedatectl_show
from tests.bidding.test_opening_support import five, hall  # noqa: F401

CHRONY = """Reference ID    : A29FC87B (time.example.cn)
Stratum         : 3
Ref time (UTC)  : Thu Dec 03 11:00:00 2026
System time     : {offset} seconds {way} of NTP time
Last offset     : +0.000012345 seconds
RMS offset      : 0.000020000 seconds
Frequency       : 1.234 ppm slow
Leap status     : {leap}
"""


def chrony(offset="0.000123000", way="slow", leap="Normal") -> str:
    return CHRONY.format(offset=offset, way=way, leap=leap)


@pytest.fixture
def probe():
    """Set what the clock says: ``probe(Reading(...))``; the system's probe is back afterwards."""
    def use(reading: Reading):
        clocksync.use_probe(lambda: reading)
    yield use
    clocksync.use_probe(None)


UNSYNCED = Reading("chrony", True, 2500.0, "Normal")  # 2.5 s fast: beyond the 500 ms allowed
SYNCED = Reading("chrony", True, -0.4, "Normal")


def test_chrony_and_systemd_readings_are_parsed():
    assert parse_chronyc_tracking(chrony()) == Reading("chrony", True, -0.123, "Normal")
    assert parse_chronyc_tracking(chrony("1.500000000", "fast")).offset_ms == 1500.0
    assert parse_chronyc_tracking(chrony(leap="Not synchronised")).synchronised is False
    assert parse_chronyc_tracking("506 Cannot talk to daemon\n") is None
    assert parse_timedatectl_show("NTP=yes\nNTPSynchronized=yes\n").synchronised is True
    assert parse_timedatectl_show("NTP=no\nNTPSynchronized=no\n").synchronised is False
    assert parse_timedatectl_show("System has not been booted with systemd\n") is None


@pytest.mark.parametrize("reading, state", [
    (Reading("chrony", True, 499.9), "synchronised"),
    (Reading("chrony", True, -500.1), "unsynchronised"),
    (Reading("chrony", False, None, "Not synchronised"), "unsynchronised"),
    (Reading("timedatectl", True), "synchronised"),
    (Reading("timedatectl", False), "unsynchronised"),
    (Reading("none", None), "unknown"),
])
def test_the_state_is_judged_against_the_allowed_offset(reading, state):
    assert judge(reading, 500).state == state
    assert judge(reading, 500).hold_deadlines == (state == "unsynchronised")


def test_without_chrony_or_systemd_the_state_is_unknown(monkeypatch):
    monkeypatch.setattr(clocksync, "find_tool", lambda name: None)
    assert clocksync.system_probe().source == "none"
    assert judge(clocksync.system_probe(), 500).state == "unknown"


def test_readings_are_cached_and_published_as_metrics(probe, settings):
    calls = []
    clocksync.use_probe(lambda: calls.append(1) or UNSYNCED)
    assert clocksync.current().state == "unsynchronised" and clocksync.current().state == "unsynchronised"
    assert len(calls) == 1
    assert metrics.CLOCK_STATE._value.get() == 0 and metrics.CLOCK_OFFSET._value.get() == 2.5
    settings.CLOCK_MAX_OFFSET_MS = 3000  # a changed limit is judged anew
    assert clocksync.current().state == "synchronised" and metrics.CLOCK_STATE._value.get() == 1


@pytest.mark.django_db
def test_healthz_reports_the_clock_and_stays_up(probe):
    probe(UNSYNCED)
    res = Client().get("/healthz")
    assert res.status_code == 200 and res.json()["status"] == "ok"
    assert res.json()["clock"] == {"state": "unsynchronised", "source": "chrony", "offset_ms": 2500.0,
                                   "max_offset_ms": 500.0, "detail": "Normal"}
    probe(Reading("none", None, None, "neither chronyc nor timedatectl answered"))
    assert Client().get("/healthz").json()["clock"]["state"] == "unknown"


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing")
def test_the_console_shows_the_clock(probe, people):
    client = Client()
    client.force_login(people["supervisor"])
    probe(UNSYNCED)
    page = client.get("/console/").content.decode()
    assert 'data-state="unsynchronised"' in page and "未同步：截止时间暂停执行" in page and "2500.0 毫秒" in page
    probe(SYNCED)
    assert 'data-state="synchronised"' in client.get("/console/").content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("fast_hashing", "bid_storage")
def test_the_ticker_holds_deadlines_while_the_clock_is_off_and_says_so(hall, probe):
    lot = hall["lot"]
    held = metrics.TIMERS_HELD._value.get()
    probe(UNSYNCED)
    with time_machine.travel(lot.bid_deadline + timedelta(seconds=5), tick=False):
        out = io.StringIO()
        call_command("ticker", "--once", stdout=out)
        call_command("ticker", "--once", stdout=out)
    assert "deadlines held" in out.getvalue()
    assert Lot.objects.get(pk=lot.pk).status == "published" and not Opening.objects.filter(lot=lot).exists()
    alerts = list(AuditEntry.objects.filter(action="realtime.clock.unsynchronised"))
    assert len(alerts) == 2 and '"offset_ms":2500.0' in alerts[0].body  # one per ticker process start
    assert classify("realtime.clock.unsynchronised").level == "critical"
    assert metrics.TIMERS_HELD._value.get() == held + 2
    # Back in sync: the held deadline applies, late but exactly once.
    probe(SYNCED)
    with time_machine.travel(lot.bid_deadline + timedelta(seconds=20), tick=False):
        call_command("ticker", "--once", stdout=io.StringIO())
    assert Opening.objects.get(lot=lot).phase == "decrypting"


@pytest.mark.django_db
def test_one_alert_per_change_of_state_in_a_running_ticker(probe):
    from realtime.management.commands.ticker import ClockWatch
    from common import clock

    watch = ClockWatch()
    probe(UNSYNCED)
    assert watch.check(clock.now()) and watch.check(clock.now())
    probe(SYNCED)
    assert not watch.check(clock.now()) and not watch.check(clock.now())
    actions = list(AuditEntry.objects.filter(action__startswith="realtime.clock.").values_list("action", flat=True))
    assert actions == ["realtime.clock.unsynchronised", "realtime.clock.resynchronised"]
