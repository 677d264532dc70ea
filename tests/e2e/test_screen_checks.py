"""The journeys' screen checks catch what they claim to: axe-core finds a serious violation, and the
text rules find raw codes, UTC times and English on a Chinese page (and leave labels alone)."""

from __future__ import annotations

import pytest

from tests.e2e.screen import axe_violations, check_screen, text_problems

pytestmark = pytest.mark.e2e


def test_axe_finds_a_serious_violation_and_passes_a_clean_page(page):
    page.set_content('<html lang="zh-hans"><head><title>t</title></head><body><main>'
                     '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="><button></button></main></body></html>')
    found = " ".join(axe_violations(page))
    assert "image-alt" in found and "button-name" in found, found
    page.set_content('<html lang="zh-hans"><head><title>t</title></head><body><main><h1>开标大厅</h1>'
                     '<p>投标截止：2026年12月03日 15:12（北京时间，UTC+8）</p></main></body></html>')
    check_screen(page, "a clean page")


@pytest.mark.parametrize("text, chinese, found", [
    ("失败: this tender is not open for bids [invalid_state]", True, "bracketed"),
    ("操作 bidding.opening.record_confirmed", True, "audit action"),
    ("状态 draft", True, "status"),
    ("received_at 2026-12-03T07:12:00.000000Z", False, "machine time"),
    ("接收 07:12:00Z", True, "UTC time"),
    ("bidder3 (bidder)", True, "role"),
    ("hall not found or not yours", True, "English sentence"),
    ("当前环节: 签到", True, "English colon"),
])
def test_the_text_rules_catch_raw_codes_and_utc(text, chinese, found):
    assert any(found in p for p in text_problems(text, chinese=chinese)), text_problems(text, chinese=chinese)


def test_the_text_rules_leave_labels_alone():
    text = "状态：投标中 · 操作：确认开标记录 · 2026年12月03日 15:12:00（北京时间，UTC+8）· SHA-256 · Ed25519"
    assert text_problems(text, chinese=True) == []
    assert text_problems("Status: Open for bids · 2026-12-03 15:12:00 (Beijing time, UTC+8)", chinese=False) == []


def test_chinese_labels_on_an_english_page_are_found_and_data_is_left_alone(page):
    page.set_content('<html lang="en"><head><title>t</title></head><body><main><h1>Opening hall</h1>'
                     '<p id="conn">已连接</p>'
                     '<table><thead><tr><th scope="col">投标人</th><th scope="col">Price (元)</th></tr></thead>'
                     '<tbody><tr><th scope="row">江苏宁建建设集团有限公司</th><td>1,234,567.89 元</td></tr></tbody></table>'
                     '<p>Project: 市政道路工程 · 状态：草稿</p>'
                     '<label>Main venue <span lang="zh-hans">南京市公共资源交易中心评标室</span></label>'
                     '</main></body></html>')
    with pytest.raises(AssertionError) as found:
        check_screen(page, "an English page", axe=False)
    problems = str(found.value).splitlines()[1:]
    assert any("th" in p and "投标人" in p for p in problems), problems
    assert any("untranslated" in p and "已连接" in p for p in problems), problems
    assert any("状态" in p for p in problems), problems
    assert not any(word in "\n".join(problems) for word in ("江苏宁建", "南京市", "1,234,567.89")), problems
    assert len(problems) == 3, problems


def test_english_labels_on_a_chinese_page_are_found():
    from tests.e2e.screen import english_on_chinese

    found = [["投标人 / Bidder", "th"], ["SHA-256", "th"], ["开标记录（PDF）", "button"], ["江苏 Ltd.", ""]]
    assert english_on_chinese(found) == ["English in a th on a Chinese page: '投标人 / Bidder'"]


@pytest.mark.parametrize("text, found", [
    ("Extended from 10:00 to 10:30 (E1、E3)", ["、"]),
    ("Bidder：B01", ["："]),
    ("Price scored (元)", []),
    ("the committee decided: price accepted (成本分析表可信，设备与材料自有)", []),
    ("江苏宁建（南京）有限公司", []),
    ("B01: accepted（成本可信）", []),
])
def test_chinese_punctuation_between_english_words_is_found(text, found):
    from tests.e2e.screen import chinese_on_english, stray_chinese_punctuation

    assert stray_chinese_punctuation(text) == found
    assert bool(chinese_on_english([[text, ""]])) == bool(found)


def test_a_label_in_lower_case_on_an_english_page_is_found():
    from tests.e2e.screen import chinese_on_english

    assert chinese_on_english([["status", "th"], ["Status", "th"], ["2 lines", ""]]) == [
        "a label in lower case in a th on an English page: 'status'"]


@pytest.mark.parametrize("text, found", [
    ("waiting for decryption", True), ("Waiting for decryption", False),
    (": verified", True), (": Verified", False),
    ("江苏宁建有限公司: deemed to accept", True), ("江苏宁建有限公司: Deemed to accept", False),
    ("Decrypted — the last attempt failed; try again", True), ("Upload clean-up · Platform", False),
])
def test_a_status_in_lower_case_on_an_english_page_is_found(text, found):
    """A badge or status ("waiting for decryption", "Bidder: confirmed") is a label: it starts with a
    capital on an English page, each part after a colon or a dot too."""
    from tests.e2e.screen import chinese_on_english

    assert bool(chinese_on_english([[text, "", True]])) == found
    assert chinese_on_english([[text, "", False]]) == []  # the same words outside a status are prose
