"""The collusion leads in the browser (docs/collusion.md, "Where it shows"): after the opening the
analysis has run on the lot (real signals over the generated corpus, ``collusion_setup``); a
member of the committee goes from the venue page to the lot's leads — in Chinese, bidders by their
codes only (a blind session), every signal's evidence in words — and records a decision with its
reason, which the page then shows; a supervisor reads every lead in the console, opens a case
from two of them and moves it. Every page: no raw code, no UTC time, no English sentence, axe clean.
The decisions and the case are in the audit log.
"""

from __future__ import annotations

import json

import pytest

from tests.e2e.screen import check_screen
from tests.e2e.test_journey_evaluation import WAIT, manage

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def analysed(platform_server):
    out = manage(platform_server.env, "shell", "-c",
                 "from tests.e2e.collusion_setup import build_analysed_session; build_analysed_session()",
                 timeout=300)
    return json.loads(out.strip().splitlines()[-1])


def open_page(browser, base, cookie, url):
    context = browser.new_context(locale="zh-CN", timezone_id="Asia/Shanghai", viewport={"width": 1280, "height": 900})
    context.add_cookies([{"name": "sessionid", "value": cookie, "url": base}])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(base + url)
    return context, page, errors


def open_every_fold(page) -> None:
    page.evaluate("() => document.querySelectorAll('details').forEach((d) => { d.open = true; })")


def test_the_committee_and_the_supervisors_work_with_the_leads(browser, platform_server, analysed):
    base, ev = platform_server, analysed
    sid = ev["session"]
    # the planted riggers' signals, found by the real analysis
    assert {"shared_metadata", "shared_media", "similar_text", "misplaced_name", "shared_person",
            "price_pattern", "same_machine", "same_network"} <= set(ev["signals"])
    member = next(iter(sorted(ev["members"])))
    m = ev["members"][member]
    context, page, errors = open_page(browser, base, m["cookie"], f"/evaluation/{sid}/venues/{m['venue']}/")
    try:
        page.wait_for_selector("#venue[data-step]", timeout=WAIT)
        page.click(f'a[href="/evaluation/{sid}/collusion/"]')
        page.wait_for_selector("#collusion-committee", timeout=WAIT)
        assert page.evaluate("() => document.documentElement.lang").lower().startswith("zh")
        assert page.inner_text("h1") == "围标串标线索（供参考）"
        leads = page.locator("article.lead")
        assert leads.count() == ev["leads"]
        text = page.inner_text("#collusion-committee")
        assert "文件中出现其他投标人名称" in text and "分析时间" in text
        # a blind session: the bidders by their codes, never their names, also inside the evidence
        for code in ev["bidders"]:
            assert code in text
        for name in ev["names"].values():
            assert name not in page.content()
        # the evidence in words: the kinds, fields, stages and patterns as labels, not codes
        for words in ("加密所用计算机", "最后修改者", "等差报价", "证书编号", "出现环节", "相似段落数"):
            assert words in text, words
        check_screen(page, "the committee's leads")
        open_every_fold(page)
        check_screen(page, "the committee's leads, every fold open")

        # The committee records its decision on the first lead, with its reason.
        first = leads.first
        lead_id = first.get_attribute("id").removeprefix("lead-")
        form = page.locator(f'form:has(input[name="lead"][value="{lead_id}"])')
        form.locator('select[name="decision"]').select_option(label="已作说明，不予追究")
        form.locator('input[name="reason"]').fill("两家投标人为联合体成员，已书面说明同一作者为联合体牵头人的员工")
        form.locator('button[type="submit"]').click()
        page.wait_for_selector(f"#lead-{lead_id}:has-text('已作说明，不予追究')", timeout=WAIT)
        shown = page.inner_text(f"#lead-{lead_id}")
        assert "评标委员会处理意见" in shown and "联合体牵头人的员工" in shown
        check_screen(page, "the committee's leads after a decision")
        assert errors == [], errors
    finally:
        context.close()

    context, page, errors = open_page(browser, base, ev["supervisor"], "/console/")
    try:
        page.click('a[href="/console/collusion/"]')
        page.wait_for_selector("#collusion-leads", timeout=WAIT)
        text = page.inner_text("#collusion-leads")
        assert page.locator("article.lead").count() >= ev["leads"]
        assert "已作说明，不予追究" in text  # the committee's decision, seen by the supervisors
        check_screen(page, "the supervisors' leads")
        open_every_fold(page)
        check_screen(page, "the supervisors' leads, every fold open")

        boxes = page.locator('input[type="checkbox"][name="lead"]')
        boxes.nth(0).check()
        boxes.nth(1).check()
        page.fill('input[name="title"]', "疑似围标：同一作者、同一加密计算机")
        page.fill('textarea[name="note"]', "调取三家投标人的投标保证金缴纳记录")
        page.click('form:has(input[name="form"][value="case"]) button[type="submit"]')
        row = page.locator("table tbody tr", has_text="疑似围标：同一作者、同一加密计算机")
        row.wait_for(timeout=WAIT)
        assert "未结" in row.inner_text()
        row.locator('select[name="status"]').select_option(label="调查中")
        row.locator('button[type="submit"]').click()
        page.locator("table tbody tr", has_text="调查中").wait_for(timeout=WAIT)
        check_screen(page, "the supervisors' leads with a case")
        assert errors == [], errors
    finally:
        context.close()

    counts = json.loads(manage(platform_server.env, "shell", "-c",
                               "from tests.e2e.collusion_setup import audit_counts; audit_counts()")
                        .strip().splitlines()[-1])
    assert counts == {"collusion.analysis.completed": 1, "collusion.lead.decided": 1,
                      "collusion.case.opened": 1, "collusion.case.updated": 1}
