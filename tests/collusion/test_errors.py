"""Shared rare errors one by one: what counts as an error, what does not, and how many make a lead
(docs/collusion.md, "Shared rare errors")."""

from __future__ import annotations

import random

import pytest

from collusion.signals.errors import ErrorSettings, find_errors, shared_errors, tender_figures
from collusion.signals.extract import DocFacts
from collusion.signals.leads import Signal, Strength

TENDER = DocFacts("tender.docx", "docx", text="计划工期365日历天，钢筋保护层厚度25mm，质量保修期24个月，投标保证金为8000元。")
FIGURES = tender_figures(TENDER.text)


def errors(text: str, kind: str = "docx") -> list[tuple[str, str, str]]:
    return [(f.kind, f.text, f.correct) for f in find_errors(DocFacts("a", kind, text=text), FIGURES)]


def test_misspellings_are_found_with_the_right_word_also_across_a_pdfs_line_break():
    assert errors("编制施工组识设计。主体采用混泥\n土浇筑。") == [
        ("wrong_character", "施工组识", "施工组织"), ("wrong_character", "混泥土", "混凝土")]
    # the table's words are spelt out so that a correct text never matches: 按装修要求, 确保正常施工
    assert errors("按装修要求施工，确保正常施工，既使用旧设备也要检验，双方按照合同执行。") == []


@pytest.mark.parametrize("text, found", [
    ("质量目标为合格，，一次验收。", ("punctuation", "，，", "，")),
    ("工程完工。，进入保修期。", ("punctuation", "。，", "。")),
    ("严格执行规范,建立健全体系。", ("punctuation", ",", "，")),
    ("钢筋直径为12。5毫米。", ("punctuation", "。", ".")),
    ("钢材约1，250吨。", ("punctuation", "，", ",")),
])
def test_odd_punctuation(text, found):
    assert errors(text) == [found]


def test_ordinary_punctuation_is_not_an_error():
    assert errors("一、工程概况：本工程共3栋，其中1、2号楼为住宅。是否合格？！规格为3.5m，数量1,250。") == []


def test_one_of_the_tenders_figures_restated_wrongly():
    assert errors("我方承诺计划工期356日历天。") == [("wrong_number", "356日历天", "365日历天")]
    assert errors("工期36.5日历天") == [("wrong_number", "36.5日历天", "365日历天")]  # the label's end
    assert errors("钢筋保护层厚度25cm，质量保修期24个月。") == [("wrong_number", "25cm", "25mm")]
    assert errors("计划工期为\n356 日历天") == [("wrong_number", "356日历天", "365日历天")]  # a PDF's breaks


def test_an_offer_is_not_a_wrong_number():
    """A shorter duration, a longer warranty, the right figure, another figure of no label the
    tender has: not slips."""
    assert errors("计划工期360日历天，计划工期300日历天，质量保修期36个月，计划工期365日历天，"
                  "项目经理从业15年，投标保证金为8000元。") == []


def _docs(**texts: str) -> dict[str, list[DocFacts]]:
    return {k: [DocFacts(f"{k}.docx", "docx", text=t)] for k, t in texts.items()}


SLIPS = ["施工组识设计。", "采用混泥土。", "开工前技术交低。", "质量目标为合格，，一次验收。", "计划工期356日历天。",
         "钢筋保护层厚度25cm。"]


@pytest.mark.parametrize("shared, strength", [
    ([0], None),  # one shared slip is chance
    ([0, 1, 2], None),  # three misspellings from the table (1 + 1 + 1): many writers make them
    ([0, 3], None),  # a misspelling and a punctuation slip in the same words (1 + 2)
    ([0, 1, 3], Strength.WEAK),  # 1 + 1 + 2
    ([3, 4], Strength.WEAK),  # 2 + 2
    ([0, 1, 2, 3], Strength.MODERATE),  # 1 + 1 + 1 + 2
    ([0, 1, 2, 3, 4, 5], Strength.STRONG),  # 3 + 2 + 2 + 2
])
def test_how_many_shared_errors_of_which_kinds_make_a_lead_and_its_strength(shared, strength):
    honest = {f"h{n}": f"独立编写的第{n}份文件，内容各不相同。" for n in range(6)}
    slips = [SLIPS[i] for i in shared]
    found = shared_errors(_docs(a="".join(slips), b="".join(reversed(slips)), **honest), [TENDER])
    assert [(x.signal, x.bidders, x.strength, x.evidence["count"]) for x in found] == (
        [(Signal.SHARED_ERRORS, ("a", "b"), strength, len(shared))] if strength else [])


def test_the_thresholds_and_weights_are_settings():
    assert shared_errors(_docs(a=SLIPS[0], b=SLIPS[0]), [TENDER], ErrorSettings(min_errors=1, min_score=1))
    two = _docs(a=SLIPS[0] + SLIPS[1], b=SLIPS[0] + SLIPS[1])
    assert shared_errors(two, [TENDER]) == []
    assert shared_errors(two, [TENDER], ErrorSettings(min_score=2))[0].evidence["score"] == 2
    assert shared_errors(two, [TENDER], ErrorSettings(weight_wrong_character=2))[0].evidence["score"] == 4


def test_a_slip_in_the_same_words_counts_the_same_mark_elsewhere_does_not():
    both = SLIPS[0] + SLIPS[1]
    same = shared_errors(_docs(a="目标为合格，，一次验收。" + both, b="目标为合格，，一次验收。" + both), [TENDER])
    assert [(x.evidence["count"], x.evidence["score"]) for x in same] == [(3, 4)]
    other = shared_errors(_docs(a="目标为合格，，一次验收。" + both, b="材料进场，，严格检验。" + both), [TENDER])
    assert other == []


def test_errors_many_bidders_make_or_the_tender_makes_do_not_count():
    common = {k: SLIPS[0] + SLIPS[1] for k in "abcde"}  # five of five: the trade's own misspelling
    assert shared_errors(_docs(**common), [TENDER]) == []
    tender = DocFacts("t.docx", "docx", text=TENDER.text + "编制施工组识设计。采用混泥土。")
    assert shared_errors(_docs(a=SLIPS[0] + SLIPS[1], b=SLIPS[0] + SLIPS[1]), [tender]) == []


def test_an_adversary_who_varies_the_errors_is_not_found_but_the_shared_ones_still_are():
    """A ring that corrects some slips in one copy: only those still shared count."""
    a = "".join(SLIPS)
    b = SLIPS[0] + SLIPS[1] + "开工前技术交底。质量目标为合格，一次验收。计划工期365日历天。钢筋保护层厚度25mm。"
    found = shared_errors(_docs(a=a, b=b), [TENDER])
    assert [(x.evidence["count"], sorted(e["text"] for e in x.evidence["errors"])) for x in found] == []
    b += SLIPS[3]  # the doubled comma left in
    found = shared_errors(_docs(a=a, b=b), [TENDER])
    assert [(x.evidence["count"], sorted(e["text"] for e in x.evidence["errors"])) for x in found] == [
        (3, ["施工组识", "混泥土", "，，"])]


def test_the_evidence_says_where_each_error_stands_in_each_file():
    a = "第一段。\n第二段，编制施工组识设计。\n采用混泥土。"
    b = {"b": [DocFacts("b-1.pdf", "pdf", text="采用混泥土。"), DocFacts("b-2.docx", "docx", text="\n\n编制施工组识设计。")]}
    slip = DocFacts("x.docx", "docx", text=SLIPS[3])  # and a third shared error, to make a lead
    b["b"].append(slip)
    found = shared_errors({"a": [DocFacts("a.docx", "docx", text=a), slip], **b}, [TENDER])
    where = {e["text"]: e["where"] for e in found[0].evidence["errors"]}
    assert where["施工组识"] == {"a": [{"document": "a.docx", "line": 2, "context": "第一段。 第二段，编制施工组识设计。 采用混泥土。"}],
                              "b": [{"document": "b-2.docx", "line": 3, "context": "  编制施工组识设计。"}]}
    assert where["混泥土"]["b"] == [{"document": "b-1.pdf", "line": 1, "context": "采用混泥土。"}]


def test_the_error_settings_are_read_and_checked(settings):
    from django.core.exceptions import ImproperlyConfigured

    from collusion import conf

    settings.COLLUSION = {"errors": {"min_errors": 3, "common_share": 0.1}}
    a = conf.analysis_settings()
    assert a.errors.min_errors == 3 and a.errors.common_share == 0.1
    assert conf.snapshot()["errors"]["min_errors"] == 3
    settings.COLLUSION = {"errors": {"min_error": 3}}
    with pytest.raises(ImproperlyConfigured):
        conf.analysis_settings()


def simulated_honest_tenders(bidders: int, tenders: int = 400, seed: int = 15) -> dict[str, int]:
    """Tenders of independent honest bidders, each writing its own text over the trade's vocabulary
    (two paragraphs of the corpus's prose) and making its own errors, pessimistically alike: three
    misspellings from the table (the frequent ones more often: weights 1/rank), two doubled commas,
    each between two of the trade's twelve stock phrases, and one bidder in ten the tender's
    duration with two digits swapped (365 → 356 or 635). The number of tenders with a lead, and
    with a lead of each strength."""
    from collusion.signals.errors import MISSPELLINGS

    from .corpus import PHRASES, prose

    rng = random.Random(seed)
    words = list(MISSPELLINGS)
    weights = [1 / rank for rank in range(1, len(words) + 1)]
    out = {"any": 0, "weak": 0, "moderate": 0, "strong": 0}
    for _ in range(tenders):
        docs = {}
        for b in range(bidders):
            parts = prose(rng.randrange(1 << 30), 2)
            parts += [f"{w}。" for w in rng.choices(words, weights=weights, k=3)]
            parts += [f"{rng.choice(PHRASES)}，，{rng.choice(PHRASES)}。" for _ in range(2)]
            if rng.random() < 0.1:
                parts.append(f"计划工期{rng.choice(['356', '635'])}日历天。")
            docs[f"h{b}"] = [DocFacts("a.docx", "docx", text="\n".join(parts))]
        found = shared_errors(docs, [TENDER])
        out["any"] += bool(found)
        for strength in {x.strength.value for x in found}:
            out[strength] += 1
    return out


def test_independent_honest_errors_rarely_make_a_lead():
    """The figures docs/collusion.md prints ("Shared rare errors: simulated honest tenders")."""
    from .docfigures import error_rows

    rows = error_rows()
    assert sorted(rows) == [10, 30]
    for bidders, printed in rows.items():
        measured = simulated_honest_tenders(bidders)
        print(bidders, measured)
        assert printed == (measured["any"], measured["weak"], measured["moderate"], measured["strong"])


def test_the_text_around_an_error_or_a_name_never_shows_an_identity_number():
    """A lead shows identity numbers masked (docs/collusion.md, privacy); the text around a finding
    may stand next to one — also cut by the context's edge — and is masked too."""
    from collusion.signals.identity import BidderIdentity, misplaced_names

    from .corpus import SHARED_PM

    text = f"编制施工组识设计。身份证号{SHARED_PM}；采用混泥土。旧证号{SHARED_PM[:15]}\n质量目标为合格，，一次验收。"
    found = shared_errors(_docs(a=text, b=text), [TENDER])
    contexts = [p["context"] for e in found[0].evidence["errors"] for p in e["where"]["a"]]
    assert contexts and not any(SHARED_PM[6:14] in c or SHARED_PM[6:11] in c for c in contexts)
    assert any(f"****{SHARED_PM[-4:]}；采用混泥土" in c for c in contexts)  # masked, not cut out
    docs = {"a": [DocFacts("a.docx", "docx", text=f"投标人：宏远建筑工程有限公司，项目经理身份证号{SHARED_PM}")]}
    (lead,) = misplaced_names(docs, [BidderIdentity("a", "甲公司"), BidderIdentity("b", "宏远建筑工程有限公司")], "")
    assert SHARED_PM not in lead.evidence["context"] and SHARED_PM[:6] + "****" in lead.evidence["context"]
