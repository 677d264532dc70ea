"""The host's tender pages: a save is one transaction through the same actions as the API, optional
fields are optional, problems are said in Chinese next to their field, and the typed data stays."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from bidding.lifecycle import DEFAULT_ANNOUNCED_FIELDS
from bidding.models import Lot, Project
from common import clock

pytestmark = pytest.mark.django_db
BEIJING = ZoneInfo("Asia/Shanghai")


def host_client(people) -> Client:
    client = Client()  # no Accept-Language: the platform's language, zh-hans
    client.force_login(people["host"])
    return client


def form(orgs, **changes) -> dict:
    deadline = (clock.now() + timedelta(days=20)).astimezone(BEIJING)
    data = {"project_code": "ZB-2026-001", "project_title": "市政道路工程", "tenderee": orgs["tenderee"].pk,
            "lot_code": "01", "lot_title": "施工总承包", "bid_deadline": deadline.strftime("%Y-%m-%dT%H:%M"),
            "signin_opens_at": "", "decryption_window_minutes": "30", "confirmation_window_minutes": "30",
            "min_bids": "3", "announced_fields": json.dumps(DEFAULT_ANNOUNCED_FIELDS, ensure_ascii=False)}
    data.update(changes)
    return data


def field_error(html: str, field: str) -> str:
    match = re.search(rf'id="id_{field}_error"[^>]*>([^<]*)<', html)
    return match.group(1) if match else ""


def test_it_creates_a_tender_with_the_optional_sign_in_time_left_blank(people, orgs):
    res = host_client(people).post("/tenders/new/", form(orgs))
    assert res.status_code == 302, res.content.decode()[:2000]
    lot = Lot.objects.get(project__code="ZB-2026-001")
    assert lot.signin_opens_at == lot.bid_deadline and lot.status == "draft"


@pytest.mark.parametrize("changes, field, words", [
    ({"decryption_window_minutes": "2"}, "decryption_window_minutes", "5"),
    ({"confirmation_window_minutes": "2000"}, "confirmation_window_minutes", "1440"),
    ({"bid_deadline": "2020-01-01T10:00"}, "bid_deadline", "晚于当前时间"),
    ({"signin_opens_at": "2099-01-01T10:00"}, "signin_opens_at", "不能晚于投标截止时间"),
    ({"announced_fields": "[{"}, "announced_fields", "JSON"),
    ({"announced_fields": json.dumps([{"key": "days", "type": "integer", "label": "工期"}])}, "announced_fields",
     "投标报价"),
])
def test_a_failed_save_keeps_nothing_says_why_in_chinese_next_to_the_field_and_keeps_the_input(
        people, orgs, changes, field, words):
    client = host_client(people)
    res = client.post("/tenders/new/", form(orgs, **changes))
    assert res.status_code == 200
    html = res.content.decode()
    message = field_error(html, field)
    assert words in message and re.search(r"[\u4e00-\u9fff]", message), (field, message)
    assert "[bad_request]" not in html and "must be" not in html
    assert 'value="ZB-2026-001"' in html and "市政道路工程" in html  # what was typed stays
    assert not Project.objects.exists()  # nothing half-saved
    # Corrected, the same form goes through: the project code is still free.
    assert client.post("/tenders/new/", form(orgs)).status_code == 302
    assert Project.objects.count() == 1 and Lot.objects.count() == 1


def test_a_taken_project_code_is_said_next_to_the_project_code(people, orgs):
    client = host_client(people)
    assert client.post("/tenders/new/", form(orgs)).status_code == 302
    res = client.post("/tenders/new/", form(orgs, lot_title="第二次"))
    html = res.content.decode()
    assert res.status_code == 200 and "已存在" in field_error(html, "project_code"), html[:3000]
    assert Project.objects.count() == 1


def test_the_api_still_answers_in_one_json_shape_with_the_problem_per_field(people, orgs):
    client = host_client(people)
    res = client.post("/api/v1/projects", data=json.dumps(
        {"code": "P-9", "title": "t", "tenderee_id": orgs["tenderee"].pk, "agency_id": orgs["agency"].pk}),
        content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    body = {"code": "01", "title": "t", "bid_deadline": clock.now().isoformat(),
            "decryption_window_minutes": 2}
    res = client.post(f"/api/v1/projects/{res.json()['id']}/lots", data=json.dumps(body),
                      content_type="application/json", HTTP_ACCEPT_LANGUAGE="en")
    error = res.json()["error"]
    assert res.status_code == 400 and error["code"] == "bad_request"
    assert error["details"]["decryption_window_minutes"] == "must be between 5 and 1440 minutes"
    assert error["details"]["bid_deadline"] == "must be in the future"


def test_the_tender_page_states_the_price_rule_a_bid_will_be_scored_by(people, make_lot):
    """The bidder reads the evaluation method before it bids: benchmark, trimming, K, deductions and
    the single rounding, as the settings declare them (evaluation.report_prices.settings_text)."""
    from evaluation.rules.settings import DEFAULT_EVALUATION_SETTINGS

    lot = make_lot(evaluation_settings={**DEFAULT_EVALUATION_SETTINGS, "price_formula": "construction_mean",
                                        "rate_below": "0.5", "rounding": "ROUND_HALF_EVEN", "decimals": 3,
                                        "abnormally_low": {"basis": "mean_of_others", "percent": "85"}})
    client = Client()
    client.force_login(people["alice"])
    html = client.get(f"/tenders/{lot.pk}/").content.decode()
    section = html[html.index('id="evaluation-method"'):]
    section = section[:section.index("</section>")]
    for words in ("评标办法（招标文件载明）", "有效投标报价的算术平均值", "去掉最高 1 个、最低 1 个报价",
                  "K 在 -3% 至 0% 之间随机抽取", "低于基准价每档扣 0.5 分",
                  "得分保留 3 位小数（四舍六入五成双），只舍入一次", "低于其他有效投标报价的平均值的 85% 的"):
        assert words in section, words


def test_a_host_chooses_the_gm_suite_and_bidders_seal_in_the_browser(people, orgs):
    from django.test import Client

    res = host_client(people).post("/tenders/new/", form(orgs, cipher_suite="gm"))
    assert res.status_code == 302, res.content.decode()[:2000]
    lot = Lot.objects.get(project__code="ZB-2026-001")
    assert lot.cipher_suite == "gm"
    page = host_client(people).get(f"/tenders/{lot.pk}/").content.decode()
    assert "密码套件" in page and "国密算法" in page
    lot.status = "published"
    lot.save(update_fields=["status"])
    bidder = Client()
    bidder.force_login(people["alice"])
    # The submit page is open for a gm tender (it seals gm-v1 in the browser) and knows the suite;
    # its labels say what a P-256 certificate lacks, in both languages.
    res = bidder.get(f"/tenders/{lot.pk}/bid/")
    assert res.context["ctx"]["closed_reason"] == "" and res.context["ctx"]["lot"]["cipher_suite"] == "gm"
    assert "SM2 证书" in res.context["labels"]["gm_cert"]
    english = bidder.get(f"/tenders/{lot.pk}/bid/", HTTP_ACCEPT_LANGUAGE="en").context["labels"]["gm_cert"]
    assert "needs a current SM2 certificate" in english
    assert host_client(people).post("/tenders/new/", form(orgs, project_code="ZB-2026-002",
                                                            cipher_suite="sm9")).status_code == 200


def _edit_form(lot, **changes) -> dict:
    data = {"title": lot.title, "description": lot.description,
            "bid_deadline": lot.bid_deadline.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M"),
            "signin_opens_at": lot.signin_opens_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M"),
            "decryption_window_minutes": lot.decryption_window_minutes,
            "confirmation_window_minutes": lot.confirmation_window_minutes, "min_bids": lot.min_bids,
            "cipher_suite": lot.cipher_suite, "announced_fields": json.dumps(lot.announced_fields)}
    return {**data, **changes}


def test_the_edit_and_amend_forms_carry_the_suite_which_changes_only_while_nothing_depends_on_it(people, make_lot):
    from audit.models import AuditEntry
    from bidding.models import Custodian, EscrowKey

    draft = make_lot(status="draft")
    page = host_client(people).get(f"/tenders/{draft.pk}/").content.decode()
    assert 'name="cipher_suite"' in page and "国密算法" in page
    res = host_client(people).post(f"/tenders/{draft.pk}/", _edit_form(draft, cipher_suite="gm"))
    assert res.status_code == 302, res.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.cipher_suite == "gm"
    edited = json.loads(AuditEntry.objects.filter(action="bidding.lot.edited").last().body)
    assert edited["data"]["cipher_suite"] == ["intl", "gm"]
    # A published lot: an amendment (with its reason), refused once custodians are named.
    draft.status = "published"
    draft.save(update_fields=["status"])
    res = host_client(people).post(f"/tenders/{draft.pk}/", _edit_form(draft, cipher_suite="intl", reason="改用国际算法"))
    assert res.status_code == 302, res.content.decode()[:3000]
    draft.refresh_from_db()
    assert draft.cipher_suite == "intl" and draft.amendments.get().changes["cipher_suite"] == ["gm", "intl"]
    EscrowKey.objects.create(lot=draft, scheme=EscrowKey.Scheme.SHARES, threshold=2, count=2, created_at=clock.now())
    res = host_client(people).post(f"/tenders/{draft.pk}/", _edit_form(draft, cipher_suite="gm", reason="再改"))
    assert res.status_code == 200
    assert "不能再更改密码套件" in field_error(res.content.decode(), "cipher_suite")
    draft.refresh_from_db()
    assert draft.cipher_suite == "intl" and Custodian.objects.count() == 0
