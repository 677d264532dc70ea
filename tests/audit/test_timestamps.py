"""RFC 3161 timestamps from a real local TSA (``openssl ts``): stored with each checkpoint off the
append path, exported, verified offline; a wrong TSA certificate is rejected, and a history remade
later — re-signed with the platform's own key — cannot get timestamps from the past."""

import io
import time

import pytest
from django.db import transaction

from audit import witnesses
from audit.archive import export_archive
from audit.checkpoints import issue_checkpoint
from audit.keys import platform_vkey
from audit.log import log_action
from common.actor import Actor
from audit.models import AuditCheckpoint, AuditEntry, AuditTimestamp, AuditWitnessFeed
from crypto.archive import ArchiveError, verify_archive
from crypto.timestamp import TimestampError, load_roots, request_for, verify_timestamp

from .test_tamper import insider, recompute_everything, resign_with_the_platform_key

ACTOR = Actor(username="t", role="host")


def append(n, tender_id=None):
    for i in range(n):
        with transaction.atomic():
            log_action("tests.thing.happened", actor=ACTOR, tender_id=tender_id, data={"i": i})


def test_a_token_from_the_tsa_verifies_offline_and_only_with_its_root(tsa, tmp_path):
    import urllib.request

    from tests.tsa import make_authority

    message = b"kaibiao.test/audit\n5\nAAAA\n"
    query, nonce = request_for(message)
    request = urllib.request.Request(tsa.url, data=query, headers={"Content-Type": "application/timestamp-query"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        token = reply.read()
    roots = load_roots(tsa.root_pem)
    gen_time = verify_timestamp(token, message, roots, nonce=nonce)
    assert abs(time.time() - gen_time.timestamp()) < 120
    with pytest.raises(TimestampError, match="does not verify"):
        verify_timestamp(token, message + b"x", roots)
    make_authority(tmp_path, name="Another TSA")  # a real TSA, but not the trusted one
    with pytest.raises(TimestampError, match="does not verify"):
        verify_timestamp(token, message, load_roots((tmp_path / "ca.pem").read_bytes()))
    with pytest.raises(TimestampError):
        verify_timestamp(token[:-10], message, roots)


@pytest.fixture
def stamped(db, tsa, tmp_path, settings, make_lot):
    roots = tmp_path / "tsa-roots.pem"
    roots.write_bytes(tsa.root_pem)
    settings.AUDIT_TSA_URL, settings.AUDIT_TSA_ROOTS = tsa.url, str(roots)
    lot = make_lot()
    append(3, tender_id=lot.pk)
    first = issue_checkpoint("one")
    assert not AuditTimestamp.objects.exists()  # issuing waits for nobody
    witnesses._on_tick(AuditWitnessFeed.objects.get(), first.created_at)
    append(2, tender_id=lot.pk)
    buffer = io.BytesIO()
    export_archive(buffer, lot=lot)
    assert AuditTimestamp.objects.count() == AuditCheckpoint.objects.count() == 2
    return lot, buffer.getvalue()


def test_checkpoints_are_timestamped_and_the_archive_verifies_them(stamped, tsa, tmp_path):
    _, data = stamped
    result = verify_archive(io.BytesIO(data), vkey=platform_vkey(), tsa_roots=tsa.root_pem)
    assert any("2 checkpoints timestamped by a trusted TSA" in line for line in result.lines)
    from tests.tsa import make_authority

    make_authority(tmp_path, name="Another TSA")
    with pytest.raises(ArchiveError, match=r"checkpoint #1 \(size \d+\): its timestamp does not verify"):
        verify_archive(io.BytesIO(data), vkey=platform_vkey(), tsa_roots=(tmp_path / "ca.pem").read_bytes())


def test_a_history_remade_later_cannot_get_timestamps_from_the_past(stamped, tsa):
    lot, _ = stamped
    time.sleep(4)
    # The insider, holding the platform key, rewrites an entry, recomputes every hash and
    # re-signs every checkpoint. The old timestamps are over the old notes:
    entry = AuditEntry.objects.filter(tender_id=lot.pk, body__contains='"i":1').first()
    insider('UPDATE audit_auditentry SET body = %s WHERE "index" = %s',
            [entry.body.replace('"i":1', '"i":100'), entry.index])
    recompute_everything()
    resign_with_the_platform_key()
    kept = io.BytesIO()
    export_archive(kept, lot=lot)
    verify_archive(io.BytesIO(kept.getvalue()), vkey=platform_vkey())  # the platform key alone: fine
    with pytest.raises(ArchiveError, match="its timestamp does not verify: .*Mismatch"):
        verify_archive(io.BytesIO(kept.getvalue()), vkey=platform_vkey(), tsa_roots=tsa.root_pem,
                       tsa_max_delay=3)
    # ... and fresh timestamps are dated now, seconds after the records say the checkpoints were issued.
    insider("DELETE FROM audit_audittimestamp")
    fresh = io.BytesIO()
    export_archive(fresh, lot=lot)
    with pytest.raises(ArchiveError, match=r"checkpoint #1 .* was timestamped \d+ s after its record says"):
        verify_archive(io.BytesIO(fresh.getvalue()), vkey=platform_vkey(), tsa_roots=tsa.root_pem,
                       tsa_max_delay=3)


def test_the_console_shows_the_latest_checkpoints_timestamp(stamped, people):
    from django.test import Client

    from audit.models import AuditTimestamp

    latest = AuditCheckpoint.objects.order_by("-number").first()
    AuditTimestamp.objects.filter(checkpoint=latest).delete()
    client = Client()
    client.force_login(people["supervisor"])
    assert "尚未加盖时间戳" in client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    witnesses._on_tick(AuditWitnessFeed.objects.get(), latest.created_at)
    stamp = AuditTimestamp.objects.get(checkpoint=latest)
    page = client.get("/console/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    from zoneinfo import ZoneInfo

    assert stamp.gen_time.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y年%m月%d日 %H:%M:%S") in page  # Beijing, as people read it
    assert "尚未加盖时间戳" not in page and "未配置时间戳服务" not in page
