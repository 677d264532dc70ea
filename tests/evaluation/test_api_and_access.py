"""The evaluation API and who sees what: the draw (names for authorised staff only, every read
audited, verifiable after the reveal), sessions, sign-in confirmation, clarifications, the signed
report and its PDF. Bidders never see experts' names or scores."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from datetime import timedelta

import pytest
from django.test import Client

from audit.models import AuditEntry
from common import clock
from common.errors import NotFound
from crypto.signing import generate_signing_key, public_key_bytes, sign
from evaluation import actions as a
from evaluation import actions_clarify as cl
from evaluation.models import EvaluationSession, ReportSignature, Venue
from evaluation.report import signing_message
from evaluation.room import VENUE_ROOM
from evaluation.state import room_key
from evaluation.testing import build, drive_to, expert_act, sibling_lot
from realtime.timers import run_due_timers
from tests.conftest import need_service, need_tool

from .test_session_flow import verified

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def test_the_draw_is_committed_before_hidden_from_bidders_audited_and_verifiable(scenario):
    sc = scenario
    draw = sc.session.draw
    actions = list(AuditEntry.objects.filter(action__startswith="evaluation.draw.").order_by("index")
                   .values_list("action", flat=True))
    assert actions[:6] == ["evaluation.draw.opened"] + ["evaluation.draw.contribution_committed"] * 3 + [
        "evaluation.draw.snapshot_published", "evaluation.draw.contribution_revealed"]
    assert actions[7] == "evaluation.draw.drawn"
    host = client_for(sc.host)
    viewed = AuditEntry.objects.filter(action="evaluation.expert.viewed").count()
    res = host.get(f"/api/v1/evaluation/draws/{draw.pk}")
    assert res.status_code == 200 and res.json()["committee"] and len(res.json()["seed"]) == 64
    assert AuditEntry.objects.filter(action="evaluation.expert.viewed").count() == viewed + 1
    sup = client_for(sc.supervisor).get(f"/api/v1/evaluation/draws/{draw.pk}")
    assert sup.status_code == 200 and sup.json()["committee"] is None  # names only after the result
    bidder = client_for(next(iter(sc.bidder_users.values())))
    for path in ("", "/snapshot", "/published", "/verify"):
        assert bidder.get(f"/api/v1/evaluation/draws/{draw.pk}{path}").status_code == 404
        assert client_for(sc.experts["E1"]).get(f"/api/v1/evaluation/draws/{draw.pk}{path}").status_code == 404
    assert host.get(f"/api/v1/evaluation/draws/{draw.pk}/verify").json() == {"id": draw.pk, "verified": True}


def test_a_host_draws_and_an_expert_who_declines_is_replaced(db):
    from evaluation.models import Expert
    from evaluation.testing import run_draw

    sc = build()
    region = sc.venues[0].region
    Expert.objects.create(user=sc.experts["E1"].__class__.objects.create(username="spare", role="expert"),
                          region=region, category="technical")
    host = client_for(sc.host)
    lot = sibling_lot(sc)
    draw = run_draw(lot, quotas={v.region.code: 1 if i else 3 for i, v in enumerate(sc.venues)}, host=sc.host,
                    supervisor=sc.supervisor)
    body = host.get(f"/api/v1/evaluation/draws/{draw.pk}").json()
    first = body["committee"][0]["expert_id"]
    res = post(host, f"/api/v1/evaluation/draws/{body['id']}/decline", {"expert_id": first})
    assert res.status_code == 200, res.content
    assert first not in [m["expert_id"] for m in res.json()["committee"]] and res.json()["replacements"] == 1
    assert host.get(f"/api/v1/evaluation/draws/{body['id']}/verify").status_code == 200
    other = client_for(sc.bidder_users["B01"])
    assert post(other, "/api/v1/evaluation/draws", {"lot_id": lot.pk, "quotas": {}}).status_code in (403, 404)


def test_rooms_admit_only_the_people_of_the_venue(scenario):
    sc = scenario
    main, sub = sc.venues[0], sc.venues[1]
    sub_code = next(c for c, m in sc.members.items() if m.venue_id == sub.pk)
    assert VENUE_ROOM.authorise(sc.experts["E1"], room_key(sc.session.pk, main.pk)) == "expert"
    assert VENUE_ROOM.authorise(sc.staff[sub.pk], room_key(sc.session.pk, sub.pk)) == "staff"
    assert VENUE_ROOM.authorise(sc.staff[main.pk], room_key(sc.session.pk, main.pk)) == "main_staff"
    assert VENUE_ROOM.authorise(sc.supervisor, room_key(sc.session.pk, sub.pk)) == "supervisor"
    for user, venue in [(sc.experts[sub_code], main), (sc.staff[main.pk], sub), (sc.host, main),
                        (sc.bidder_users["B01"], main), (sc.bidder_users["B01"], sub)]:
        with pytest.raises(NotFound):
            VENUE_ROOM.authorise(user, room_key(sc.session.pk, venue.pk))


def test_staff_confirm_sign_in_through_the_api(scenario):
    sc = scenario
    sub = sc.venues[1]
    code = next(c for c, m in sc.members.items() if m.venue_id == sub.pk)
    expert_act(sc, code, a.do_sign_in)
    url = f"/api/v1/evaluation/sessions/{sc.session.pk}/members/{code}/confirm"
    assert post(client_for(sc.staff[sc.venues[0].pk]), url).status_code == 403
    res = post(client_for(sc.staff[sub.pk]), url)
    assert res.status_code == 200 and res.json()["confirmed"] is True
    assert client_for(sc.bidder_users["B01"]).get(f"/api/v1/evaluation/sessions/{sc.session.pk}").status_code == 404


def test_clarifications_reach_the_bidder_without_who_asked(scenario):
    sc = scenario
    drive_to(sc, "compliance")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    other = next(c for c in sc.members if c != chair)
    with pytest.raises(Exception):
        expert_act(sc, other, cl.do_ask, bidder="B01", question="请澄清工期", minutes=30)
    verified(sc, lambda: expert_act(sc, chair, cl.do_ask, bidder="B01", question="请澄清工期承诺的依据", minutes=30))
    bidder = client_for(sc.bidder_users["B01"])
    listed = bidder.get("/api/v1/evaluation/clarifications").json()
    assert len(listed) == 1 and listed[0]["question"] == "请澄清工期承诺的依据"
    text = json.dumps(listed, ensure_ascii=False)
    assert "asked_by" not in text and all(str(u) not in text for u in sc.experts.values())
    assert client_for(sc.bidder_users["B02"]).get("/api/v1/evaluation/clarifications").json() == []
    url = f"/api/v1/evaluation/clarifications/{listed[0]['id']}/answer"
    assert post(client_for(sc.bidder_users["B02"]), url, {"answer": "x"}).status_code == 404
    res, _ = verified(sc, lambda: post(bidder, url, {"answer": "依据施工组织设计第三章"}))
    assert res.status_code == 200 and res.json()["answer"] == "依据施工组织设计第三章"
    assert post(bidder, url, {"answer": "again"}).status_code == 409
    snap = VENUE_ROOM.snapshot(room_key(sc.session.pk, sc.venues[1].pk),
                               __import__("realtime.audience", fromlist=["Viewer"]).Viewer(
                                   user_id=sc.staff[sc.venues[1].pk].pk, org_id=None, role="staff"))
    assert list(snap["clarifications"].values())[0]["answer"] == "依据施工组织设计第三章"


def test_a_late_answer_is_refused(scenario, time_machine):
    sc = scenario
    drive_to(sc, "compliance")
    chair = EvaluationSession.objects.get(pk=sc.session.pk).state["chair"]
    expert_act(sc, chair, cl.do_ask, bidder="B01", question="请澄清", minutes=5)
    clar = sc.session.clarifications.get()
    time_machine.move_to(clock.now() + timedelta(minutes=6))
    res = post(client_for(sc.bidder_users["B01"]), f"/api/v1/evaluation/clarifications/{clar.pk}/answer",
               {"answer": "晚了"})
    assert res.status_code == 409 and res.json()["error"]["code"] == "deadline_passed"


def pdf_text(data: bytes, tmp_path) -> str:
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    # Reading order (no -layout): a table cell's wrapped text stays together.
    text = subprocess.run([need_tool("pdftotext"), str(path), "-"], capture_output=True, text=True, check=True).stdout
    return "".join(text.split())


def test_members_sign_or_dissent_the_rest_are_deemed_to_agree_and_the_pdf_reads_back(scenario, tmp_path):
    sc = scenario
    drive_to(sc, "signing")
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    digest = session.report_sha256
    key = generate_signing_key()
    e1 = client_for(sc.experts["E1"])
    res = post(e1, "/api/v1/evaluation/experts/me/signing-key",
               {"public_key": base64.b64encode(public_key_bytes(key)).decode()})
    assert res.status_code == 200
    bad = base64.b64encode(sign(key, signing_message("0" * 64))).decode()
    assert post(e1, f"/api/v1/evaluation/sessions/{sc.session.pk}/sign", {"signature": bad}).status_code == 400
    good = base64.b64encode(sign(key, signing_message(digest))).decode()
    res = post(e1, f"/api/v1/evaluation/sessions/{sc.session.pk}/sign", {"signature": good})
    assert res.status_code == 200, res.content
    e2 = client_for(sc.experts["E2"])
    res, _ = verified(sc, lambda: post(e2, f"/api/v1/evaluation/sessions/{sc.session.pk}/sign",
                                       {"reason": "对第二名的技术评分有不同意见"}))
    assert res.status_code == 200
    with pytest.raises(Exception):
        expert_act(sc, "E3", a.do_next)  # not everyone has signed, and the time is not over
    verified(sc, lambda: run_due_timers(session.signing_deadline + timedelta(seconds=1)))
    kinds = dict(ReportSignature.objects.values_list("member__code", "kind"))
    assert kinds == {"E1": "signed", "E2": "dissent", "E3": "deemed", "E4": "deemed", "E5": "deemed"}
    staff = sc.staff[sc.venues[0].pk]
    from evaluation.testing import act

    act(sc, staff, "main_staff", a.do_next)
    assert EvaluationSession.objects.get(pk=sc.session.pk).state["step"] == "done"
    assert client_for(sc.bidder_users["B01"]).get(
        f"/api/v1/evaluation/sessions/{sc.session.pk}/report.pdf").status_code == 404
    res = client_for(sc.host).get(f"/api/v1/evaluation/sessions/{sc.session.pk}/report.pdf")
    if res.status_code == 500:
        need_service("Pango for WeasyPrint", res.content.decode()[:200])
    assert res.status_code == 200 and res["Content-Type"] == "application/pdf"
    text = pdf_text(res.content, tmp_path)
    for expected in ("评标报告", "资格审查与符合性审查", "专家评分明细", "价格得分与评分汇总", "排序与推荐中标候选人",
                     "持不同意见", "视为同意", "对第二名的技术评分有不同意见", digest[:16],
                     "随机数提供方", "值班监督人", sc.session.draw.seed_hex[:16],
                     str(sc.experts["E1"]), sc.bidders["B01"].name):
        assert "".join(expected.split()) in text, expected
    # People read Beijing time and labels: no UTC machine time, no ranking-basis code.
    assert "北京时间" in text and not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)
    ranking_part = text.split("排序与推荐中标候选人")[1][:400]
    assert not re.search(r"(?<![a-z])(score|last|price|draw)(?![a-z])", ranking_part), ranking_part
    assert Venue.objects.exists()


def test_the_tender_archive_carries_the_signed_report_and_verifies_offline(scenario):
    import io

    from audit.archive import export_archive
    from audit.keys import platform_vkey
    from crypto.archive import ArchiveError, verify_archive

    sc = scenario
    drive_to(sc, "signing")
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    key = generate_signing_key()
    e1 = client_for(sc.experts["E1"])
    post(e1, "/api/v1/evaluation/experts/me/signing-key",
         {"public_key": base64.b64encode(public_key_bytes(key)).decode()})
    good = base64.b64encode(sign(key, signing_message(session.report_sha256))).decode()
    assert post(e1, f"/api/v1/evaluation/sessions/{sc.session.pk}/sign", {"signature": good}).status_code == 200
    buffer = io.BytesIO()
    manifest = export_archive(buffer, lot=sc.lot)
    assert f"reports/evaluation-{sc.session.pk}.json" in manifest["files"]
    result = verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())
    assert any("1 evaluation reports, hashes and signatures verified" in line for line in result.lines)
    # A report altered after signing no longer matches the hash the experts signed.
    ReportSignature.objects.filter(session=session).update(signature=base64.b64encode(b"\0" * 64).decode())
    buffer = io.BytesIO()
    export_archive(buffer, lot=sc.lot)
    with pytest.raises(ArchiveError, match="signature does not verify"):
        verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())
