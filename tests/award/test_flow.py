"""From the signed report to the award: the publicity on the server's moved clock, objections
raised and answered, the award blocked while one is open, the signed notices, the tender read-only,
the deposits' refund deadline, everything audited and in the tender's archive."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from datetime import timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client

from audit.keys import platform_signing_key, platform_vkey
from audit.models import AuditEntry
from award.models import Award, Notice, Objection, Publicity
from award.notices import verify_notice
from bidding.models import Lot
from common import clock
from crypto.signing import public_key_bytes

pytestmark = pytest.mark.django_db


def client_for(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def post(client, url, body=None):
    return client.post(url, data=json.dumps(body or {}), content_type="application/json")


def code(response) -> str:
    return response.json()["error"]["code"] if response.status_code >= 400 else ""


def reason(response) -> str:
    return response.json()["error"].get("details", {}).get("reason", "")


def entries(lot, prefix="award."):
    return list(AuditEntry.objects.filter(tender_id=lot.pk, action__startswith=prefix).order_by("index"))


def test_the_publicity_objections_and_award_on_the_servers_clock(evaluated):
    sc = evaluated
    lot = sc.lot
    host, bidder = client_for(sc.host), client_for(sc.bidder_users["B01"])
    url = f"/api/v1/lots/{lot.pk}/publicity"
    assert client_for().get(url).status_code == 404  # nothing published yet
    res = post(host, url, {"days": 2})
    assert res.status_code == 400 and res.json()["error"]["details"]["min_days"] == 3
    assert post(bidder, url, {"days": 3}).status_code == 403  # a bidder cannot publish
    start = clock.now()
    with time_machine.travel(start, tick=False):
        res = post(host, url, {"days": 3})
    assert res.status_code == 201, res.content
    assert post(host, url, {"days": 3}).json()["error"]["details"]["reason"] == "already_published"
    public = client_for().get(url).json()  # anonymous: the public reads it
    ranked = [c["rank"] for c in public["candidates"]]
    assert ranked == sorted(ranked) and 1 <= len(ranked) <= 3
    first = public["candidates"][0]
    assert first["name"] == sc.bidders[first["code"]].name and first["price_fen"] == sc.bidders[first["code"]].price_fen
    assert first["score"] is not None
    assert "committee" not in json.dumps(public) and str(sc.experts["E1"]) not in json.dumps(public)  # Law 37
    assert public["ends_at"] > public["starts_at"]

    # An objection needs a signed-in bidder, during the period; attachments are bounded.
    objection_url = f"/api/v1/lots/{lot.pk}/objections"
    body = {"grounds": "第一中标候选人的项目经理有在建工程", "contact": "张三 13800000000",
            "attachments": [{"name": "证明.pdf", "content_type": "application/pdf",
                             "data": base64.b64encode(b"%PDF-1.4 evidence").decode()}]}
    assert client_for().post(objection_url, data=json.dumps(body), content_type="application/json").status_code == 401
    assert post(host, objection_url, body).status_code == 403
    huge = dict(body, attachments=[{"name": "x.pdf", "content_type": "application/pdf",
                                    "data": base64.b64encode(b"x" * 300_000).decode()}])
    assert code(post(bidder, objection_url, huge)) == "bad_request"
    # Sessions expire when idle: each move of the clock signs in afresh.
    with time_machine.travel(start + timedelta(days=1), tick=False):
        host, bidder = client_for(sc.host), client_for(sc.bidder_users["B01"])
        res = post(bidder, objection_url, body)
        assert client_for(sc.bidder_users["B02"]).get(objection_url).json() == []  # others do not read it
        assert [o["id"] for o in host.get(objection_url).json()] == [res.json()["id"]]
    assert res.status_code == 201, res.content
    objection = res.json()
    assert objection["answer_due"] > objection["raised_at"] and objection["state"] == "open"

    # After the period: no more objections, and no award while the objection is open.
    with time_machine.travel(start + timedelta(days=3), tick=False):
        host = client_for(sc.host)
        assert reason(post(client_for(sc.bidder_users["B02"]), objection_url, body)) == "publicity_closed"
        res = post(host, f"/api/v1/lots/{lot.pk}/award", {})
        assert res.status_code == 409 and reason(res) == "objection_open"
    # Before the end the award waits for the period even with every objection answered.
    with time_machine.travel(start + timedelta(days=2), tick=False):
        host = client_for(sc.host)
        res = post(host, f"/api/v1/award/objections/{objection['id']}/answer", {"answer": "经核查，该项目经理已完工。"})
        assert res.status_code == 200 and res.json()["state"] == "answered"
        assert reason(post(host, f"/api/v1/award/objections/{objection['id']}/answer", {"answer": "x"})) == "answered"
        assert reason(post(host, f"/api/v1/lots/{lot.pk}/award", {})) == "publicity_running"
    with time_machine.travel(start + timedelta(days=3, seconds=1), tick=False):
        host, bidder = client_for(sc.host), client_for(sc.bidder_users["B01"])
        res = post(host, f"/api/v1/lots/{lot.pk}/award", {})
    assert res.status_code == 201, res.content
    assert res.json()["winner"]["code"] == first["code"]
    assert Lot.objects.get(pk=lot.pk).status == "completed"
    assert client_for().get(f"/api/v1/lots/{lot.pk}/award").json()["price_fen"] == first["price_fen"]

    # Every evaluated bidder has one signed notice; the winner's is the award notice.
    notices = {n.organisation_id: n for n in Notice.objects.filter(award__lot=lot)}
    assert len(notices) == len(sc.bidders)
    key = public_key_bytes(platform_signing_key())
    for b in sc.bidders.values():
        n = notices[b.bidder_org_id]
        assert n.kind == ("award" if b.code == first["code"] else "result")
        assert verify_notice(n.document, n.sha256, n.signature, key)
        tampered = dict(n.document, winner={**n.document["winner"], "price_fen": 1})
        assert not verify_notice(tampered, n.sha256, n.signature, key)
    mine = bidder.get(f"/api/v1/lots/{lot.pk}/notices").json()
    assert [m["organisation"] for m in mine] == [sc.bidders["B01"].bidder_org_id] and mine[0]["vkey"] == platform_vkey()
    other = next(n for o, n in notices.items() if o != sc.bidders["B01"].bidder_org_id)
    assert bidder.get(f"/api/v1/award/notices/{other.pk}").status_code == 404  # not yours = not found

    # The tender is read-only now: no second award, no edit, no objection.
    assert reason(post(host, f"/api/v1/lots/{lot.pk}/award", {})) == "awarded"
    assert host.patch(f"/api/v1/lots/{lot.pk}", data=json.dumps({"title": "改"}),
                      content_type="application/json").status_code == 409

    actions = [e.action for e in entries(lot)]
    assert actions == ["award.publicity.published", "award.objection.raised", "award.objection.answered",
                       "award.award.made"]
    answered = json.loads(entries(lot)[2].body)["data"]
    assert answered["state"] == ["open", "answered"] and answered["answer"][0] is None
    made = json.loads(entries(lot)[3].body)["data"]
    assert made["status"] == ["evaluating", "completed"]


def test_the_contract_starts_the_deposits_refund_deadline(evaluated):
    from award import actions
    from common.actor import Actor

    sc = evaluated
    now = clock.now()
    actor = Actor.of(sc.host)
    actions.publish_candidates(sc.host, actor, sc.lot.pk, days=3, now=now)
    award = actions.make_award(sc.host, actor, sc.lot.pk, now=now + timedelta(days=3))
    with pytest.raises(Exception) as info:
        actions.record_contract(sc.host, actor, sc.lot.pk, signed_at=now, now=now + timedelta(days=4))
    assert info.value.code.value == "bad_request"  # before the award
    signed = now + timedelta(days=10)
    actions.record_contract(sc.host, actor, sc.lot.pk, signed_at=signed, now=signed)
    award.refresh_from_db()
    assert award.refund_due == signed + timedelta(days=5)  # 实施条例 57
    orgs = [b.bidder_org_id for b in sc.bidders.values()]
    on_time = actions.record_refund(sc.host, actor, sc.lot.pk, organisation_id=orgs[0], now=signed + timedelta(days=2))
    late = actions.record_refund(sc.host, actor, sc.lot.pk, organisation_id=orgs[1], now=signed + timedelta(days=6))
    assert (on_time.late, late.late) == (False, True)
    view = actions.refunds_view(award, signed + timedelta(days=6))
    overdue = {r["organisation"] for r in view["bidders"] if r["overdue"]}
    assert overdue == set(orgs[2:])
    res = client_for(sc.host).get(f"/api/v1/lots/{sc.lot.pk}/award")
    assert "refunds" in res.json() and "refunds" not in client_for().get(f"/api/v1/lots/{sc.lot.pk}/award").json()


def test_an_edited_report_is_not_published(evaluated):
    sc = evaluated
    with connection.cursor() as cursor:  # an insider changes the ranking in the stored report
        cursor.execute("UPDATE evaluation_evaluationsession SET report = jsonb_set(report, '{lot,title}', "
                       "'\"改过\"') WHERE id = %s" if connection.vendor == "postgresql" else
                       "UPDATE evaluation_evaluationsession SET report = json_set(report, '$.lot.title', '改过') "
                       "WHERE id = %s", [sc.session.pk])
    res = post(client_for(sc.host), f"/api/v1/lots/{sc.lot.pk}/publicity", {"days": 3})
    assert res.status_code == 409 and res.json()["error"]["details"]["reason"] == "report_tampered"
    assert not Publicity.objects.exists()


def test_the_archive_keeps_the_publicity_objections_and_notices(evaluated):
    from audit.archive import export_archive
    from award import actions
    from common.actor import Actor
    from crypto.archive import verify_archive

    sc = evaluated
    now = clock.now()
    actions.publish_candidates(sc.host, Actor.of(sc.host), sc.lot.pk, days=3, now=now)
    bidder = sc.bidder_users["B02"]
    o = actions.raise_objection(bidder, Actor.of(bidder), sc.lot.pk, grounds="报价异常", contact="李四", now=now,
                                attachments=[{"name": "a.txt", "content_type": "text/plain",
                                              "data": base64.b64encode(b"evidence").decode()}])
    actions.answer_objection(sc.host, Actor.of(sc.host), o.pk, answer="已复核", now=now + timedelta(days=4))
    assert Objection.objects.get(pk=o.pk).state == "answered"
    assert json.loads(entries(sc.lot)[-1].body)["data"]["late"] is True  # answered after 3 days
    actions.make_award(sc.host, Actor.of(sc.host), sc.lot.pk, now=now + timedelta(days=4))
    buffer = io.BytesIO()
    export_archive(buffer, lot=sc.lot)
    verify_archive(io.BytesIO(buffer.getvalue()), vkey=platform_vkey())
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as zf:
        section = json.loads(zf.read("award/award.json"))
        names = zf.namelist()
        log = zf.read(next(n for n in names if n.endswith("entries.jsonl"))).decode()
    assert section["objections"][0]["grounds"] == "报价异常" and section["objections"][0]["answer"] == "已复核"
    assert len(section["award"]["notices"]) == len(sc.bidders)
    assert any(n.endswith("a.txt") for n in names)
    for action in ("award.publicity.published", "award.objection.raised", "award.objection.answered",
                   "award.award.made"):
        assert action in log
    assert Award.objects.filter(lot=sc.lot).count() == 1


def test_the_public_page_in_chinese_and_english_and_its_forms(evaluated):
    sc = evaluated
    page = f"/tenders/{sc.lot.pk}/publicity/"
    assert "尚未公示" in client_for().get(page).content.decode()
    host = client_for(sc.host)
    assert 'value="publish"' in host.get(page).content.decode()
    assert 'value="publish"' not in client_for(sc.bidder_users["B01"]).get(page).content.decode()
    refused = host.post(page, {"form": "publish", "days": "2"}).content.decode()
    assert 'role="alert"' in refused and "请求内容有误" in refused  # the code's label, in Chinese
    assert client_for().post(page, {"form": "publish", "days": "3"}).status_code in (401, 403)
    assert host.post(page, {"form": "publish", "days": "3"}).status_code == 302
    zh = client_for().get(page).content.decode()
    first = Publicity.objects.get(lot=sc.lot).content["candidates"][0]
    assert "中标候选人公示" in zh and first["name"] in zh and "（北京时间）" in zh
    en = client_for().get(page, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Winning candidates (public notice)" in en and "Beijing time" in en and "中标候选人公示" not in en
    bidder = client_for(sc.bidder_users["B02"])
    assert bidder.post(page, {"form": "object", "grounds": "报价低于成本", "contact": "赵六"}).status_code == 302
    objection = Objection.objects.get(publicity__lot=sc.lot)
    html = host.get(page).content.decode()
    assert "报价低于成本" in html and "赵六" not in client_for().get(page).content.decode()
    assert "当前阶段不能进行此操作" in host.post(page, {"form": "award"}).content.decode()
    assert not Award.objects.filter(lot=sc.lot).exists()
    assert host.post(page, {"form": "answer", "objection": objection.pk, "answer": "已核实"}).status_code == 302
    with time_machine.travel(Publicity.objects.get(lot=sc.lot).ends_at, tick=False):
        host = client_for(sc.host)
        assert host.post(page, {"form": "award", "winner": first["code"]}).status_code == 302
    assert "中标人：" + first["name"] in client_for().get(page).content.decode()


def test_the_notices_print_in_chinese_and_each_step_is_an_outbox_event(evaluated, tmp_path):
    import subprocess

    from award import actions
    from common.actor import Actor
    from exchange.models import OutboxEvent
    from tests.conftest import need_service, need_tool

    sc = evaluated
    now = clock.now()
    actions.publish_candidates(sc.host, Actor.of(sc.host), sc.lot.pk, days=3, now=now)
    bidder = sc.bidder_users["B03"]
    o = actions.raise_objection(bidder, Actor.of(bidder), sc.lot.pk, grounds="异议", contact="王五 139", now=now)
    actions.answer_objection(sc.host, Actor.of(sc.host), o.pk, answer="答复", now=now)
    actions.make_award(sc.host, Actor.of(sc.host), sc.lot.pk, now=now + timedelta(days=3))
    kinds = list(OutboxEvent.objects.filter(tender_id=sc.lot.pk).order_by("id").values_list("kind", flat=True))
    assert kinds == ["award.candidates", "award.objection_raised", "award.objection_answered", "award.made"]
    payloads = json.dumps(list(OutboxEvent.objects.values_list("payload", flat=True)), ensure_ascii=False)
    assert "王五" not in payloads and "异议" not in payloads  # no contact, no grounds leave the platform

    notice = Notice.objects.get(award__lot=sc.lot, kind="award")
    res = client_for(sc.host).get(f"/api/v1/award/notices/{notice.pk}/notice.pdf")
    if res.status_code == 500:
        need_service("Pango for WeasyPrint", res.content.decode()[:200])
    assert res.status_code == 200 and res["Content-Type"] == "application/pdf"
    path = tmp_path / "n.pdf"
    path.write_bytes(res.content)
    text = "".join(subprocess.run([need_tool("pdftotext"), str(path), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    for expected in ("中标通知书", notice.document["to"]["name"], notice.sha256[:32], "北京时间", "Ed25519"):
        assert "".join(expected.split()) in text, expected
    assert AuditEntry.objects.filter(action="award.notice.downloaded", tender_id=sc.lot.pk).count() == 1
