"""The pages: the supervisors' leads and cases, the committee's advisory page; in Chinese, no raw
codes, and who may reach them."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditEntry
from collusion.models import Case, Lead

from .test_committee import with_lead

pytestmark = pytest.mark.django_db


def signed_in(user) -> Client:
    c = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
    c.force_login(user)
    return c


def test_the_committee_page_shows_leads_in_chinese_and_records_a_decision():
    from evaluation.testing import build

    sc = build()
    lead, a, _ = with_lead(sc)
    expert = signed_in(next(iter(sc.experts.values())))
    url = f"/evaluation/{sc.session.pk}/collusion/"
    page = expert.get(url).content.decode()
    assert "文件中出现其他投标人名称" in page and "实施条例第四十条第（五）项" in page and "misplaced_name" not in page
    assert a.code in page
    res = expert.post(url, {"lead": lead.pk, "decision": "dismissed", "reason": ""})
    assert res.status_code == 400
    res = expert.post(url, {"lead": lead.pk, "decision": "dismissed", "reason": "系联合体成员，已说明"})
    assert res.status_code == 302
    assert Lead.objects.get(pk=lead.pk).decision == "dismissed"
    assert "已作说明，不予追究" in expert.get(url).content.decode()
    # the supervisor reads the page but gets no form; a bidder gets nothing
    sup = signed_in(sc.supervisor).get(url).content.decode()
    assert "文件中出现其他投标人名称" in sup and 'name="decision"' not in sup
    assert signed_in(next(iter(sc.bidder_users.values()))).get(url).status_code == 404


def test_the_supervisors_page_opens_and_moves_a_case():
    from evaluation.testing import build

    sc = build()
    lead, _, _ = with_lead(sc)
    sup = signed_in(sc.supervisor)
    page = sup.get("/console/collusion/").content.decode()
    assert "文件中出现其他投标人名称" in page and "中" in page
    res = sup.post("/console/collusion/", {"form": "case", "lead": [lead.pk], "title": "疑似混装", "note": ""})
    assert res.status_code == 302
    case = Case.objects.get()
    res = sup.post("/console/collusion/", {"form": "status", "case": case.pk, "status": "referred"})
    assert res.status_code == 302 and Case.objects.get().status == "referred"
    assert "已移送行政监督部门" in sup.get("/console/collusion/").content.decode()
    assert AuditEntry.objects.filter(action__startswith="collusion.case.").count() == 2
    assert signed_in(sc.host).get("/console/collusion/").status_code == 403


@pytest.mark.parametrize("blind", [False, True])
def test_the_committee_reads_shared_errors_in_words_by_code(blind):
    """Which errors, what they should be, where in each bidder's file (document, line, the text
    around it), bidders by their codes — and in a blind session no name even inside the context."""
    from collusion.models import AnalysisRun
    from collusion.signals.errors import shared_errors
    from collusion.signals.extract import DocFacts
    from common import clock
    from evaluation.testing import build

    sc = build(blind=blind)
    a, c = list(sc.bidders.values())[:2]
    text = f"第一段。\n{a.name}编制施工组识设计。\n质量目标为合格，，工程一次验收通过。采用混泥土。"
    (found,) = shared_errors({str(o): [DocFacts(f"{o}-技术标.docx", "docx", text=text)]
                              for o in (a.bidder_org_id, c.bidder_org_id)})
    d = found.as_dict()
    run = AnalysisRun.objects.create(lot=sc.lot, started_at=clock.now(), settings={}, bidders={}, leads_sha256="0" * 64)
    Lead.objects.create(run=run, lot=sc.lot, signal=d["signal"], strength=d["strength"], articles=d["articles"],
                        organisations=sorted([a.bidder_org_id, c.bidder_org_id]), evidence=d["evidence"])
    page = signed_in(next(iter(sc.experts.values()))).get(f"/evaluation/{sc.session.pk}/collusion/").content.decode()
    for words in ("相同的罕见错误", "实施条例第四十条第（四）项", "错别字", "应为「施工组织」", "异常标点", "第2行",
                  "相同错误数", f"{a.code} {a.bidder_org_id}-技术标.docx 第2行"):
        assert words in page, words
    assert "shared_errors" not in page.split("<details")[0]  # codes only in the folded JSON
    if blind:
        assert a.name not in page
