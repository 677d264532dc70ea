"""The committee reads its lot's leads as advisory material, by the session's bidder codes (and in
a blind session without names), records what it decided and why; the history's co-bidding graph."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import ApiToken
from audit.models import AuditEntry
from collusion.models import AnalysisRun, Lead
from common import clock

pytestmark = pytest.mark.django_db


def client(user) -> Client:
    _, secret = ApiToken.issue(user, "test")
    return Client(HTTP_AUTHORIZATION=f"Bearer {secret}")


def with_lead(sc):
    b = list(sc.bidders.values())
    a, c = b[0], b[1]
    run = AnalysisRun.objects.create(lot=sc.lot, started_at=clock.now(), settings={}, bidders={}, leads_sha256="0" * 64)
    lead = Lead.objects.create(run=run, lot=sc.lot, signal="misplaced_name", strength="moderate", articles=["reg40.5"],
                               organisations=sorted([a.bidder_org_id, c.bidder_org_id]),
                               evidence={"in_documents_of": str(c.bidder_org_id), "names": str(a.bidder_org_id),
                                         "context": f"投标人：{a.name}（盖章）",
                                         "seen": {str(a.bidder_org_id): 1}})
    return lead, a, c


@pytest.mark.parametrize("blind", [False, True])
def test_the_committee_sees_its_lots_leads_by_code(blind):
    from evaluation.testing import build

    sc = build(blind=blind)
    lead, a, c = with_lead(sc)
    expert = next(iter(sc.experts.values()))
    res = client(expert).get(f"/api/v1/lots/{sc.lot.pk}/collusion/leads")
    assert res.status_code == 200, res.content
    body = res.json()
    assert body["advisory"] is True
    (shown,) = body["leads"]
    assert sorted(x["code"] for x in shown["bidders"]) == sorted([a.code, c.code])
    assert shown["evidence"]["in_documents_of"] == c.code and shown["evidence"]["names"] == a.code
    assert shown["evidence"]["seen"] == {a.code: 1}
    assert "organisation" not in json.dumps(shown["bidders"])
    if blind:
        assert a.name not in json.dumps(shown, ensure_ascii=False)
        assert a.code in shown["evidence"]["context"]
    else:
        assert a.name in shown["evidence"]["context"]


def test_the_committee_decides_with_a_reason_and_it_is_audited():
    from evaluation.testing import build

    sc = build()
    lead, _, _ = with_lead(sc)
    expert = next(iter(sc.experts.values()))
    c = client(expert)
    url = f"/api/v1/collusion/leads/{lead.pk}/decision"
    res = c.post(url, data=json.dumps({"decision": "referred", "reason": ""}), content_type="application/json")
    assert res.status_code == 400 and res.json()["error"]["details"]["code"] == "reason_required"
    res = c.post(url, data=json.dumps({"decision": "guilty", "reason": "x"}), content_type="application/json")
    assert res.status_code == 400
    res = c.post(url, data=json.dumps({"decision": "referred", "reason": "混装明显，移交监督"}),
                 content_type="application/json")
    assert res.status_code == 200, res.content
    res = c.post(url, data=json.dumps({"decision": "noted", "reason": "经澄清后仍存疑"}), content_type="application/json")
    entries = [json.loads(e.body)["data"] for e in AuditEntry.objects.filter(action="collusion.lead.decided").order_by("index")]
    assert [(e["old"]["decision"], e["new"]["decision"]) for e in entries] == [("", "referred"), ("referred", "noted")]
    assert entries[1]["session"] == sc.session.pk
    # the supervisor reads leads but does not decide for the committee; a stranger cannot even see it
    assert client(sc.supervisor).post(url, data=json.dumps({"decision": "noted", "reason": "x"}),
                                      content_type="application/json").status_code == 403
    outsider = build()
    stranger = next(iter(outsider.experts.values()))
    assert client(stranger).post(url, data=json.dumps({"decision": "noted", "reason": "x"}),
                                 content_type="application/json").status_code == 404
    assert client(stranger).get(f"/api/v1/lots/{sc.lot.pk}/collusion/leads").status_code == 404


def test_the_report_records_the_committees_decision_and_then_closes_it(tmp_path):
    """The report the members sign carries the lot's leads — by the session's codes — with what
    the committee decided and why; the PDF prints them; once it is generated, no decision changes."""
    import subprocess

    from evaluation.models import EvaluationSession
    from evaluation.report import pdf_context
    from evaluation.testing import build, drive_to
    from tests.conftest import need_tool

    sc = build()
    lead, a, c = with_lead(sc)
    other = Lead.objects.create(run=lead.run, lot=sc.lot, signal="price_pattern", strength="weak",
                                articles=["reg40.4"], organisations=lead.organisations, evidence={})
    expert = next(iter(sc.experts.values()))
    url = f"/api/v1/collusion/leads/{lead.pk}/decision"
    res = client(expert).post(url, data=json.dumps({"decision": "dismissed", "reason": "联合体成员，已书面说明"}),
                              content_type="application/json")
    assert res.status_code == 200, res.content
    drive_to(sc, "signing")
    session = EvaluationSession.objects.get(pk=sc.session.pk)
    section = session.report["collusion"]
    assert section["run"]["id"] == lead.run_id and section["run"]["leads_sha256"] == lead.run.leads_sha256
    assert section["leads"] == [
        {"id": lead.pk, "signal": "misplaced_name", "strength": "moderate", "articles": ["reg40.5"],
         "bidders": sorted([a.code, c.code]), "decision": "dismissed", "reason": "联合体成员，已书面说明",
         "decided_at": section["leads"][0]["decided_at"]},
        {"id": other.pk, "signal": "price_pattern", "strength": "weak", "articles": ["reg40.4"],
         "bidders": sorted([a.code, c.code]), "decision": None, "reason": "", "decided_at": None}]
    assert section["leads"][0]["decided_at"]
    # part of what is signed: the hash covers it
    from evaluation.report import report_hash

    assert report_hash(session.report) == session.report_sha256
    # after the report, the decisions are closed (the signed report would no longer say them)
    res = client(expert).post(url, data=json.dumps({"decision": "referred", "reason": "改为移交"}),
                              content_type="application/json")
    assert res.status_code == 409 and res.json()["error"]["code"] == "invalid_state"
    assert Lead.objects.get(pk=lead.pk).decision == "dismissed"
    # the PDF prints the section in words
    from documents.pdf import render_pdf

    data = render_pdf("documents/evaluation_report.html", pdf_context(session))
    path = tmp_path / "r.pdf"
    path.write_bytes(data)
    text = "".join(subprocess.run([need_tool("pdftotext"), str(path), "-"], capture_output=True, text=True,
                                  check=True).stdout.split())
    for expected in ("围标串标分析线索", "文件中出现其他投标人名称", "已作说明，不予追究", "联合体成员，已书面说明",
                     "未作处理"):
        assert expected in text, expected


def test_a_session_without_an_analysis_says_so_in_its_report():
    from evaluation.models import EvaluationSession
    from evaluation.testing import build, drive_to

    sc = build()
    drive_to(sc, "signing")
    assert EvaluationSession.objects.get(pk=sc.session.pk).report["collusion"] == {"run": None, "leads": []}


def test_the_history_graph_finds_a_ring_that_always_lets_one_win():
    """Six lots in which the same three companies bid, the first always ranked first."""
    from bidding.models import BidSubmission
    from evaluation.testing import build, sibling_lot

    sc = build(n_bidders=3)
    orgs = [b.bidder_org for b in sc.bidders.values()]
    winner_code = sorted(sc.bidders)[0]
    sc.session.ranking = {"candidates": [winner_code]}
    sc.session.save(update_fields=["ranking"])
    winner = sc.bidders[winner_code].bidder_org_id
    from collusion.signals.graph import TenderOutcome  # noqa: F401 - the shape the history is read as

    lots = [sc.lot] + [sibling_lot(sc, code=f"0{n + 2}") for n in range(5)]
    _bids(lots, orgs)
    from collusion import gather

    original = gather.tender_outcomes

    def with_winners(limit):
        return [TenderOutcome(t.key, t.bidders, str(winner)) if t.bidders == frozenset(str(o.pk) for o in orgs)
                else t for t in original(limit)]

    gather_patch = pytest.MonkeyPatch()
    gather_patch.setattr("collusion.actions.tender_outcomes", with_winners)
    try:
        res = client(sc.supervisor).post("/api/v1/collusion/history")
    finally:
        gather_patch.undo()
    assert res.status_code == 201, res.content
    (found,) = [x for x in res.json()["leads"] if x["signal"] == "co_bidding"]
    assert sorted(b["organisation"] for b in found["bidders"]) == sorted(o.pk for o in orgs)
    assert found["evidence"]["pattern"] == "one_wins" and found["evidence"]["tenders_together"] == 6
    assert AuditEntry.objects.filter(action="collusion.history.analysed").count() == 1
    assert client(sc.host).post("/api/v1/collusion/history").status_code == 403
    assert BidSubmission.objects.count() == 18


def test_the_recorded_winner_is_read_from_the_ranking():
    from bidding.models import BidSubmission  # noqa: F401
    from collusion.gather import tender_outcomes
    from evaluation.testing import build

    sc = build(n_bidders=3)
    orgs = [b.bidder_org for b in sc.bidders.values()]
    _bids([sc.lot], orgs)
    code = sorted(sc.bidders)[1]
    sc.session.ranking = {"candidates": [code]}
    sc.session.save(update_fields=["ranking"])
    (t,) = [t for t in tender_outcomes(100) if t.key == str(sc.lot.pk)]
    assert t.winner == str(sc.bidders[code].bidder_org_id) and len(t.bidders) == 3


def _bids(lots, orgs):
    """Submissions on file, written directly: the history reads only who bid where."""
    import uuid

    from bidding.models import BidderCertificate, BidSubmission
    from accounts.models import User

    for org in orgs:
        user = User.objects.filter(organisation=org).first()
        cert = BidderCertificate.objects.create(organisation=org, requested_by=user, csr_pem="x", public_key=b"x",
                                                key_id=uuid.uuid4().hex[:16], status="issued", created_at=clock.now())
        for lot in lots:
            BidSubmission.objects.create(id=uuid.uuid4(), lot=lot, organisation=org, submitted_by=user, upload=None,
                                         certificate=cert, sha256="0" * 64, size=1, commitment="", key_id=cert.key_id,
                                         header=b"", path="x", received_at=clock.now(), audit_index=-1, receipt={})
