"""The evaluation report of a gm tender is signed by each member with their SM2 key (sm2-sm3, the
default user ID); an Ed25519 signature is refused there, and the archive verifies the SM2 ones."""

from __future__ import annotations

import base64
import io
import json

import pytest

from audit.keys import platform_vkey
from audit.models import AuditEntry
from bidding.models import Lot
from crypto import gm
from crypto.archive import ArchiveError, verify_archive
from crypto.signing import generate_signing_key, public_key_bytes, sign
from evaluation.models import EvaluationSession, ReportSignature
from evaluation.report import signing_message
from evaluation.testing import drive_to
from tests.evaluation.test_api_and_access import client_for, post

b64 = lambda raw: base64.b64encode(raw).decode()  # noqa: E731


def test_a_gm_report_is_signed_with_sm2_and_verifies_offline(scenario):
    from audit.archive import export_archive

    sc = scenario
    Lot.objects.filter(pk=sc.lot.pk).update(cipher_suite="gm")
    drive_to(sc, "signing")
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    message = signing_message(session.report_sha256)
    url = f"/api/v1/evaluation/sessions/{sc.session.pk}/sign"
    e1, e2 = client_for(sc.experts["E1"]), client_for(sc.experts["E2"])
    ed, sm2 = generate_signing_key(), gm.generate_sm2_key()

    # An Ed25519 key registered: not enough for a gm report.
    assert post(e1, "/api/v1/evaluation/experts/me/signing-key", {"public_key": b64(public_key_bytes(ed))}).status_code == 200
    res = post(e1, url, {"signature": b64(sign(ed, message))})
    assert res.status_code == 409 and "register your sm2-sm3 signing key" in res.content.decode()
    # A key that is not an SM2 point is refused at registration.
    res = post(e1, "/api/v1/evaluation/experts/me/signing-key",
               {"public_key": b64(b"\x04" + b"\x01" * 64), "algorithm": "sm2-sm3"})
    assert res.status_code == 400
    res = post(e1, "/api/v1/evaluation/experts/me/signing-key",
               {"public_key": b64(sm2.public.point), "algorithm": "sm2-sm3"})
    assert res.status_code == 200 and res.json()["algorithm"] == "sm2-sm3"
    registered = json.loads(AuditEntry.objects.filter(action="evaluation.expert.key_registered").last().body)
    assert registered["data"]["algorithm"] == "sm2-sm3"
    # The Ed25519 signature relabelled, another user id, another SM2 key: all refused.
    for bad in (sign(ed, message), gm.sm2_sign(sm2, message, user_id=b"ALICE123@YAHOO.COM"),
                gm.sm2_sign(gm.generate_sm2_key(), message), gm.signature_to_der(gm.sm2_sign(sm2, message))):
        assert post(e1, url, {"signature": b64(bad)}).status_code == 400
    assert post(e1, url, {"signature": b64(gm.sm2_sign(sm2, message))}).status_code == 200
    row = ReportSignature.objects.get(session=session, member__code="E1")
    assert row.algorithm == "sm2-sm3" and row.public_key == b64(sm2.public.point)
    signed = json.loads(AuditEntry.objects.filter(action="evaluation.report.signed").get().body)
    assert signed["data"]["algorithm"] == "sm2-sm3"
    assert post(e2, url, {"reason": "不同意"}).status_code == 200

    buffer = io.BytesIO()
    export_archive(buffer, lot=sc.lot)
    result = verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())
    assert any("1 evaluation reports, hashes and signatures verified" in line for line in result.lines)
    # The stored signature swapped for an Ed25519 one by the same member: the archive refuses it.
    ReportSignature.objects.filter(pk=row.pk).update(signature=b64(sign(ed, message)))
    buffer = io.BytesIO()
    export_archive(buffer, lot=sc.lot)
    with pytest.raises(ArchiveError, match="signature does not verify"):
        verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())


def test_an_intl_report_is_still_signed_ed25519(scenario):
    sc = scenario
    drive_to(sc, "signing")
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    e1 = client_for(sc.experts["E1"])
    sm2 = gm.generate_sm2_key()
    post(e1, "/api/v1/evaluation/experts/me/signing-key", {"public_key": b64(sm2.public.point), "algorithm": "sm2-sm3"})
    url = f"/api/v1/evaluation/sessions/{sc.session.pk}/sign"
    res = post(e1, url, {"signature": b64(gm.sm2_sign(sm2, signing_message(session.report_sha256)))})
    assert res.status_code == 409 and "register your ed25519 signing key" in res.content.decode()
    ed = generate_signing_key()
    post(e1, "/api/v1/evaluation/experts/me/signing-key", {"public_key": b64(public_key_bytes(ed))})
    assert post(e1, url, {"signature": b64(sign(ed, signing_message(session.report_sha256)))}).status_code == 200
    assert ReportSignature.objects.get(session=session, member__code="E1").algorithm == "ed25519"
