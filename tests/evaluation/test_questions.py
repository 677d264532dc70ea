"""The questions the platform writes to a bidder (evaluation/questions.py) are issued in Chinese, the
record, and reach the pages as a code with parameters, so an English page reads them in English
(issue 20); a question the chair typed is shown as typed."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.utils import translation

from common import labels
from evaluation import actions_clarify as c
from evaluation import actions_price_review as pr
from evaluation import questions
from evaluation import state as st
from evaluation.models import Clarification
from evaluation.testing import build, drive_to, expert_act
from tests.evaluation.test_price_review import LOW, by_price, chair_of

CJK = re.compile(r"[\u4e00-\u9fff]")


def shown(view: dict, lang: str) -> str:
    """What venue_page.js shows for a clarification (``questionText``), in ``lang``."""
    if not view["question_code"]:
        return view["question"]
    with translation.override(lang):
        template = labels.label("question", view["question_code"])
    price = view["question_params"].get("price_fen")
    return template.replace("{price}", questions.yuan(price) if price is not None else "")


@pytest.mark.django_db
def test_the_low_price_question_is_issued_in_chinese_and_shown_in_the_page_language():
    sc = build(settings=LOW)
    drive_to(sc, "scoring")
    low = by_price(sc)[0]
    asked = expert_act(sc, chair_of(sc), pr.do_low_price_ask, bidder=low)
    clar = Clarification.objects.select_related("bidder", "session__lot__project").get(pk=asked["clarification"])
    assert clar.question == questions.LOW_PRICE  # the record keeps the text as issued
    view = st.clarification_view(clar)
    assert view["question_code"] == "low_price" and view["question"] == questions.LOW_PRICE
    assert shown(view, "zh-hans") == questions.LOW_PRICE  # the Chinese page reads the issued text
    english = shown(view, "en")
    assert not CJK.search(english) and english.startswith("Your price is obviously lower"), english
    assert c.bidder_view(clar)["question_code"] == "low_price"


@pytest.mark.django_db
def test_a_question_the_chair_typed_is_shown_as_typed():
    sc = build(settings=LOW)
    drive_to(sc, "scoring")
    low = by_price(sc)[0]
    asked = expert_act(sc, chair_of(sc), pr.do_low_price_ask, bidder=low, question="请说明设备来源。")
    view = st.clarification_view(Clarification.objects.select_related("bidder").get(pk=asked["clarification"]))
    assert view["question_code"] is None and view["question_params"] == {}
    assert shown(view, "en") == "请说明设备来源。"


def test_the_correction_question_names_the_corrected_price_in_either_language():
    clar = SimpleNamespace(purpose="correction", proposal={"price_fen": 123_456_789},
                           question=questions.correction(123_456_789))
    code, params = questions.question_code(clar)
    view = {"question": clar.question, "question_code": code, "question_params": params}
    assert code == "correction" and shown(view, "zh-hans") == clar.question
    assert "1,234,567.89 元" in clar.question
    english = shown(view, "en")
    assert "1,234,567.89 yuan" in english and not CJK.search(english), english
    edited = SimpleNamespace(purpose="correction", proposal={"price_fen": 1}, question="另行说明")
    assert questions.question_code(edited) == (None, {})  # a text the platform did not write keeps its words
