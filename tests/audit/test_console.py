"""The supervisors' console: every audit entry streamed live with its alert, to supervisors only."""

import pytest
from django.db import transaction
from django.test import Client

from audit.alerts import classify
from audit.console import ConsoleRoom, ROOM, feed_console
from audit.log import log_action
from audit.models import AuditEntry
from common import clock
from common.actor import Actor
from realtime.audience import Viewer
from realtime.testing import verify_action


def test_alerts_are_classified_by_action():
    assert classify("bidding.bid.refused").code == "bid_refused"
    assert classify("evaluation.venue.down").level == "critical"  # the session is locked
    assert classify("bidding.opening.pause").code == "opening_paused"
    assert classify("evaluation.back.requested").code == "step_back"
    assert classify("accounts.access.denied").label == "越权访问被拒"
    assert classify("bidding.lot.published") is None
    # A capability added later is covered by its verb.
    assert classify("evaluation.report.signature_failed").level == "warning"


@pytest.mark.django_db
def test_feeding_copies_each_entry_once_in_order_and_verifies_as_an_action(people):
    with transaction.atomic():
        log_action("bidding.lot.published", actor=Actor.of(people["host"]), data={})
    kind, viewer = ConsoleRoom(), Viewer(user_id=people["supervisor"].pk, org_id=None,
                                         role="supervisor", sees_all=True)
    verify_action(kind, ROOM, [viewer], lambda: feed_console(clock.now()))
    assert feed_console(clock.now()) == 0  # nothing new: nothing copied twice
    with transaction.atomic():
        log_action("bidding.bid.refused", actor=Actor.of(people["alice"]), data={"reason": "late"})
    pushed = verify_action(kind, ROOM, [viewer], lambda: feed_console(clock.now()))[viewer]
    assert [p["payload"]["action"] for p in pushed] == ["bidding.bid.refused"]
    assert pushed[0]["payload"]["alert"]["code"] == "bid_refused"
    snapshot = kind.snapshot(ROOM, viewer)
    assert [e["index"] for e in snapshot["entries"]] == list(range(AuditEntry.objects.count()))


@pytest.mark.django_db(transaction=True)
async def test_supervisors_watch_and_annotate_and_nobody_else_gets_in(people, connect):
    from channels.db import database_sync_to_async

    await database_sync_to_async(feed_console)(clock.now())
    supervisor = await connect(people["supervisor"])
    reply = await supervisor.join(ROOM)
    assert reply["ok"] and reply["payload"]["mode"] == "snapshot"
    for who in ("alice", "host", "expert"):
        other = await connect(people[who])
        assert (await other.join(ROOM))["error"]["code"] == "not_found"
    reply = await supervisor.command("console.annotate", ROOM, text="核实第3号异议的答复", about=0)
    assert reply["ok"], reply
    await database_sync_to_async(feed_console)(clock.now())
    frame = await supervisor.until(lambda f: f.get("event") == "audit.entry"
                                   and f["payload"]["action"] == "audit.annotation.added")
    assert frame["payload"]["actor"] == "supervisor"


@pytest.mark.django_db
def test_access_denials_are_audited(people, make_lot):
    lot = make_lot(status="draft")
    client = Client()
    client.force_login(people["alice"])
    assert client.get(f"/api/v1/lots/{lot.pk}").status_code == 404
    assert client.get(f"/tenders/{lot.pk}/").status_code == 404
    assert client.get("/api/v1/lots/999999").status_code == 404  # missing, not hidden: no alert
    denied = AuditEntry.objects.filter(action="accounts.access.denied")
    assert [d.actor_name for d in denied] == ["alice", "alice"]


@pytest.mark.django_db
def test_the_console_page_is_for_supervisors(people):
    client = Client()
    client.force_login(people["supervisor"])
    res = client.get("/console/")
    assert res.status_code == 200 and "console.js" in res.content.decode()
    client.force_login(people["alice"])
    assert client.get("/console/").status_code == 403


@pytest.mark.django_db
def test_the_ticker_feeds_the_console_without_anyone_calling_it(people):
    from realtime.models import RoomEvent
    from realtime.timers import run_due_timers

    with transaction.atomic():
        log_action("bidding.lot.published", actor=Actor.of(people["host"]), data={})
    run_due_timers(clock.now())
    assert RoomEvent.objects.filter(room__key=ROOM, event="audit.entry").count() == AuditEntry.objects.count()


@pytest.mark.django_db
def test_the_console_shows_the_latest_checkpoint_and_its_cosignatures(people, settings):
    from audit.checkpoints import issue_checkpoint
    from audit.models import AuditCosignature
    from crypto import signing
    from crypto.cosignature import Cosigner

    witness = Cosigner("witness.test/w1", signing.generate_signing_key())
    settings.AUDIT_WITNESSES, settings.AUDIT_WITNESS_QUORUM = [f"{witness.vkey} http://127.0.0.1:9"], 1
    client = Client()
    client.force_login(people["supervisor"])
    assert "还没有检查点" in client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    checkpoint = issue_checkpoint("test")
    page = client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert f"#{checkpoint.number}" in page and "未达到法定数" in page
    body = checkpoint.note[:checkpoint.note.index("\n\n") + 1]
    AuditCosignature.objects.create(checkpoint=checkpoint, witness=witness.name,
                                    line=witness.cosign(body, 1_767_225_600), timestamp=1_767_225_600,
                                    created_at=checkpoint.created_at)
    page = client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "witness.test/w1 · <time" in page and "2026年01月01日 08:00:00" in page  # Beijing time, as people read it
    assert "未达到法定数" not in page and "1 / 1" in page
