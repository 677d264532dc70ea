"""``/metrics``: protected by ``METRICS_TOKEN``, summed over processes in multiprocess mode, and fed
by the places an operator watches during an opening (common/metrics.py, docs/operations.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from common import metrics
from realtime.hub_metrics import event_time

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "t0ken-for-prometheus-0123456789"


def scrape(client: Client, token: str | None = TOKEN):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token is not None else {}
    return client.get("/metrics", **headers)


def value(text: str, name: str, **labels) -> float:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        series, _, number = line.rpartition(" ")
        if series == name and not want or series == f"{name}{{{want}}}":
            return float(number)
    return 0.0


@pytest.mark.django_db
def test_without_a_token_configured_the_endpoint_does_not_exist(settings):
    settings.METRICS_TOKEN = ""
    for token in (None, "", TOKEN):
        res = scrape(Client(), token)
        assert res.status_code == 404 and res.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
@pytest.mark.parametrize("header", [None, "Bearer wrong", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer "])
def test_a_missing_or_wrong_token_is_refused(settings, header):
    settings.METRICS_TOKEN = TOKEN
    extra = {"HTTP_AUTHORIZATION": header} if header is not None else {}
    res = Client().get("/metrics", **extra)
    assert res.status_code == 401 and res.json()["error"]["code"] == "unauthenticated"
    assert res["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.django_db
def test_the_audit_figures_are_read_at_scrape_time(settings, people):
    settings.METRICS_TOKEN = TOKEN
    res = scrape(Client())
    assert res.status_code == 200 and res["Content-Type"].startswith("text/plain")
    text = res.content.decode()
    for name in ("kaibiao_audit_pending_entries", "kaibiao_audit_sequencing_lag_seconds",
                 "kaibiao_audit_log_entries", "kaibiao_audit_entries_since_checkpoint",
                 "kaibiao_websocket_connections", "kaibiao_upload_bytes_total",
                 "kaibiao_ticker_heartbeat_timestamp_seconds"):
        assert f"# TYPE {name} " in text, name
    from audit.models import AuditHead

    size = AuditHead.objects.get(pk=1).size if AuditHead.objects.filter(pk=1).exists() else 0
    assert value(text, "kaibiao_audit_log_entries") == size


@pytest.mark.django_db
def test_the_ticker_reports_its_heartbeat():
    import time

    metrics.TICKER_HEARTBEAT.set(0)
    call_command("ticker", "--once", stdout=open(os.devnull, "w"))
    assert abs(metrics.TICKER_HEARTBEAT._value.get() - time.time()) < 5


@pytest.mark.django_db(transaction=True)
async def test_sockets_joins_pushes_and_resyncs_are_counted(people, connect):
    kind = metrics.ROOM_SOCKETS.labels("demo")
    sockets, in_rooms = metrics.SOCKETS._value.get(), kind._value.get()
    pushes = metrics.PUSH_LATENCY.labels("demo")._sum.get(), _count(metrics.PUSH_LATENCY, "demo")
    snapshots = metrics.JOINS.labels("snapshot")._value.get()
    host = await connect(people["host"])
    await host.join("demo:metrics")
    assert metrics.SOCKETS._value.get() == sockets + 1 and kind._value.get() == in_rooms + 1
    assert metrics.JOINS.labels("snapshot")._value.get() == snapshots + 1
    await host.command("demo.post", "demo:metrics", text="报价公布")
    await host.until(lambda f: f.get("event") == "demo.posted")
    assert _count(metrics.PUSH_LATENCY, "demo") == pushes[1] + 1
    assert metrics.PUSH_LATENCY.labels("demo")._sum.get() - pushes[0] < 5  # seconds, from the commit
    await host.command("room.leave", "demo:metrics")
    assert kind._value.get() == in_rooms
    await host.ws.disconnect()
    for _ in range(50):
        if metrics.SOCKETS._value.get() == sockets:
            break
        import asyncio

        await asyncio.sleep(0.02)
    assert metrics.SOCKETS._value.get() == sockets


def _count(histogram, kind: str) -> float:
    return sum(b.get() for b in histogram.labels(kind)._buckets)


def test_an_events_time_is_read_from_its_frame():
    frame = json.dumps({"v": 1, "room": "hall:1", "stream": "all", "seq": 3, "epoch": "e",
                        "ts": "2026-12-03T08:36:35.250000Z", "event": "x", "payload": {"ts": "no"}},
                       separators=(",", ":"))  # as frames.dumps writes them
    assert event_time(frame) == datetime(2026, 12, 3, 8, 36, 35, 250000, tzinfo=timezone.utc).timestamp()
    assert event_time('{"v":1,"hb":1}') is None


CHILD = """
import sys, time
from common import metrics
metrics.SOCKETS.inc(int(sys.argv[1]))
metrics.ROOM_SOCKETS.labels("hall").inc(int(sys.argv[1]))
metrics.UPLOAD_BYTES.inc(1000 * int(sys.argv[1]))
metrics.TICKER_HEARTBEAT.set(float(sys.argv[2]))
print("ready", flush=True)
sys.stdin.readline()
"""
READ = """
from prometheus_client import CollectorRegistry, generate_latest, multiprocess
registry = CollectorRegistry()
multiprocess.MultiProcessCollector(registry)
print(generate_latest(registry).decode())
"""


def test_two_workers_add_up_in_multiprocess_mode(tmp_path):
    env = dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    children = [subprocess.Popen([sys.executable, "-c", CHILD, str(n), str(at)], cwd=ROOT, env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                for n, at in ((2, 1000.0), (3, 2000.0))]
    try:
        assert [c.stdout.readline().strip() for c in children] == ["ready", "ready"]
        text = subprocess.run([sys.executable, "-c", READ], env=env, capture_output=True, text=True,
                              check=True).stdout
        assert value(text, "kaibiao_upload_bytes_total") == 5000
        assert value(text, "kaibiao_ticker_heartbeat_timestamp_seconds") == 2000.0
        per_worker = [float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                      if line.startswith("kaibiao_websocket_connections{")]
        assert sorted(per_worker) == [2.0, 3.0]  # one series per worker (its pid)
        children[0].communicate("\n", timeout=20)  # the first worker ends: its live gauges go
        text = subprocess.run([sys.executable, "-c", READ], env=env, capture_output=True, text=True,
                              check=True).stdout
        per_worker = [line for line in text.splitlines() if line.startswith("kaibiao_websocket_connections{")]
        assert len(per_worker) == 1 and per_worker[0].endswith(" 3.0")
        assert value(text, "kaibiao_upload_bytes_total") == 5000  # counters keep what it counted
    finally:
        for child in children:
            if child.poll() is None:
                child.communicate("\n", timeout=20)


def test_the_example_alert_rules_name_only_metrics_that_exist():
    import re

    from config.metrics import AUDIT

    rules = (ROOT / "deploy" / "prometheus" / "kaibiao-alerts.yml").read_text()
    named = set(re.findall(r"\bkaibiao_[a-z_]+", rules))
    defined = {m._name for m in vars(metrics).values() if hasattr(m, "_name") and hasattr(m, "_type")}
    defined |= {name for name, _ in AUDIT.values()}
    known = defined | {f"{n}_total" for n in defined} | {f"{n}_bucket" for n in defined}
    assert named and named <= known, named - known
    assert rules.count("- alert:") == len(set(re.findall(r"- alert: (\w+)", rules)))
