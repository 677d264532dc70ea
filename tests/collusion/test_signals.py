"""The signals on the generated corpus: every planted signal is found with the right evidence,
and honest bids that share only the tender's boilerplate (and the trade's vocabulary, the tender's
logo, a default author name, the same office suite) raise nothing."""

from __future__ import annotations

import pytest

from collusion.signals.extract import read_document
from collusion.signals.identity import BidderIdentity, Observation
from collusion.signals.leads import Signal, Strength
from collusion.signals.run import TenderFacts, analyse

from . import corpus


def facts_of(bidders, tender) -> TenderFacts:
    return TenderFacts(
        bidders=[BidderIdentity(b.key, b.name, b.credit_code) for b in bidders],
        documents={b.key: [read_document(n, d) for n, d in b.files.items()] for b in bidders},
        tender_documents=[read_document(n, d) for n, d in tender.items()],
        observations=[Observation(b.key, k, v, s) for b in bidders for k, v, s in b.observations],
        prices={b.key: b.price_fen for b in bidders},
        decrypted_at={b.key: b.decrypted_at for b in bidders})


@pytest.fixture(scope="module")
def leads():
    bidders, tender = corpus.build()
    return analyse(facts_of(bidders, tender))


def of(leads, signal, **evidence):
    return [x for x in leads if x.signal == signal and all(x.evidence.get(k) == v for k, v in evidence.items())]


def test_honest_bidders_appear_in_no_lead(leads):
    honest = [x for x in leads if any(b.startswith("h") for b in x.bidders)]
    assert honest == []


def test_the_false_positive_figures_in_the_docs_are_the_measured_ones(leads):
    """Per signal, on this corpus: how many leads name an honest bidder (the false positives) and
    how many stand among the riggers only — the table docs/collusion.md prints."""
    from .docfigures import signal_rows

    measured = {s.value: (0, 0) for s in Signal if s != Signal.CO_BIDDING}
    for x in leads:
        honest, riggers = measured[x.signal.value]
        if any(b.startswith("h") for b in x.bidders):
            honest += 1
        else:
            riggers += 1
        measured[x.signal.value] = (honest, riggers)
    print(measured)
    assert signal_rows() == measured


def test_every_lead_names_its_legal_item_and_a_strength(leads):
    for x in leads:
        d = x.as_dict()
        assert d["articles"] and all(a.startswith("reg4") or a.startswith("reg39") for a in d["articles"])
        assert d["strength"] in {"weak", "moderate", "strong"}
        assert len(x.bidders) >= 2


def test_it_finds_one_author_behind_three_bids(leads):
    found = of(leads, Signal.SHARED_METADATA, field="last_modified_by", value=corpus.RIGGER_AUTHOR)
    assert [x.bidders for x in found] == [("r1", "r2", "r3")]
    assert found[0].strength == Strength.STRONG
    assert "r3-技术标.docx" in found[0].evidence["documents"]["r3"]
    author = of(leads, Signal.SHARED_METADATA, field="author", value=corpus.RIGGER_AUTHOR)
    # r1's docx and xlsx, r2's PDF (document info) and xlsx, r3's xlsx
    assert [x.bidders for x in author] == [("r1", "r2", "r3")]
    assert "r2-技术标.pdf" in author[0].evidence["documents"]["r2"]


def test_it_finds_the_shared_template_but_not_the_default_one(leads):
    found = of(leads, Signal.SHARED_METADATA, field="template")
    assert [(x.bidders, x.evidence["value"]) for x in found] == [(("r1", "r3"), "围标模板.dotx")]


def test_it_finds_the_shared_image_but_not_the_tenders_logo(leads):
    found = of(leads, Signal.SHARED_MEDIA)
    assert [x.bidders for x in found] == [("r1", "r3")]
    assert found[0].evidence["where"]["r1"] == ["r1-技术标.docx: word/media/image2.png"]


def test_it_finds_the_paraphrased_copy_across_docx_and_pdf(leads):
    found = of(leads, Signal.SIMILAR_TEXT)
    assert [x.bidders for x in found] == [("r1", "r2")]
    x = found[0]
    assert x.strength == Strength.STRONG
    assert x.evidence["windows"] >= 10 and x.evidence["share"] > 0.5
    example = x.evidence["examples"][0]
    assert example["ratio"] > 0.7 and example["a"] != example["b"]  # paraphrased, not identical
    # the boilerplate every bid copied from the tender is not among the evidence
    assert not any(corpus.TENDER_BOILERPLATE[0][:20] in e["a"] for e in x.evidence["examples"])


def test_it_finds_the_shared_rare_errors_with_where_they_stand(leads):
    """r1's misspellings, doubled comma and wrong figures, in r2's paraphrase of r1's text (a PDF)
    and three of them in r3's own text (not a copy: no look-alike text lead between r1 and r3)."""
    found = {x.bidders: x for x in of(leads, Signal.SHARED_ERRORS)}
    assert sorted(found) == [("r1", "r2"), ("r1", "r3"), ("r2", "r3")]
    assert [(found[p].strength, found[p].evidence["count"]) for p in sorted(found)] == [
        (Strength.STRONG, 6), (Strength.MODERATE, 3), (Strength.MODERATE, 3)]
    assert all(x.articles == ("reg40.4",) for x in found.values())
    r1r2 = {(e["kind"], e["text"], e["correct"]) for e in found[("r1", "r2")].evidence["errors"]}
    assert r1r2 == {("wrong_character", "施工组识", "施工组织"), ("wrong_character", "混泥土", "混凝土"),
                    ("wrong_character", "技术交低", "技术交底"), ("punctuation", "，，", "，"),
                    ("wrong_number", "356日历天", "365日历天"), ("wrong_number", "25cm", "25mm")}
    assert found[("r1", "r2")].evidence["kinds"] == {"punctuation": 1, "wrong_character": 3, "wrong_number": 2}
    r1r3 = {e["text"]: e for e in found[("r1", "r3")].evidence["errors"]}
    assert sorted(r1r3) == ["356日历天", "混泥土", "，，"]
    where = r1r3["混泥土"]["where"]
    assert [p["document"] for p in where["r1"]] == ["r1-技术标.docx"]
    assert [p["document"] for p in where["r3"]] == ["r3-技术标.docx"]
    assert "商品混泥土浇筑" in where["r1"][0]["context"] and "商品混泥土浇筑" in where["r3"][0]["context"]
    # the line: the paragraph of the docx (four of the tender's paragraphs, then the text's own)
    assert where["r3"][0]["line"] == 4 + corpus.R3_SLIPS_AT["混泥土"] + 1
    # found across a PDF's line breaks too
    assert found[("r1", "r2")].evidence["errors"][0]["where"]["r2"][0]["document"] == "r2-技术标.pdf"
    assert ("r1", "r3") not in {x.bidders for x in of(leads, Signal.SIMILAR_TEXT)}  # r3's text is its own


@pytest.mark.parametrize("disabled, honest_pairs", [
    # 隐敝, 进度记划 and 材科, which all four honest bidders write, with 沙浆 (h1–h4) and 布署 (h2–h3)
    ("common", [(("h1", "h4"), 4), (("h2", "h3"), 4)]),
    # 沙浆 by chance, and the tender's own misspelling and doubled comma that h1 and h4 quote
    ("tender", [(("h1", "h4"), 3)]),
    ("habit", [(("h1", "h3"), 4)]),  # a half-width comma everywhere, over the same stock phrases
    ("one", [(("h1", "h4"), 1), (("h2", "h3"), 1)]),  # one shared slip is chance
])
def test_each_filter_is_what_keeps_the_honest_bidders_own_errors_quiet(disabled, honest_pairs):
    """The control: honest bidders make their own errors, some the same by chance; each filter of
    the signal, turned off, lets a pair of them through."""
    from collusion.signals.errors import ErrorSettings, shared_errors

    bidders, tender = corpus.build()
    facts = facts_of(bidders, tender)
    on = shared_errors(facts.documents, facts.tender_documents)
    assert not [x for x in on if any(b.startswith("h") for b in x.bidders)]
    settings = {"common": ErrorSettings(common_share=1.0), "habit": ErrorSettings(habit_max=10 ** 6),
                "one": ErrorSettings(min_errors=1, min_score=1)}.get(disabled, ErrorSettings())
    off = shared_errors(facts.documents, [] if disabled == "tender" else facts.tender_documents, settings)
    assert [(x.bidders, x.evidence["count"]) for x in off if any(b.startswith("h") for b in x.bidders)] == honest_pairs


def test_it_finds_the_misplaced_name(leads):
    found = of(leads, Signal.MISPLACED_NAME)
    assert [(x.bidders, x.evidence["in_documents_of"], x.evidence["names"]) for x in found] == [
        (("r1", "r3"), "r3", "r1")]
    assert "宏远建筑工程有限公司（盖章）" in found[0].evidence["context"]
    assert found[0].evidence["document"] == "r3-技术标.docx"


def test_it_finds_the_same_project_manager(leads):
    found = of(leads, Signal.SHARED_PERSON, kind="id_number")
    assert [x.bidders for x in found] == [("r1", "r3")]
    assert found[0].evidence["id_number"] == corpus.SHARED_PM[:6] + "********" + corpus.SHARED_PM[-4:]
    assert corpus.SHARED_PM not in repr(found[0].evidence)  # never the full number in the lead


def test_it_finds_the_lent_certificate_in_two_staff_lists(leads):
    """The same safety certificate number in r2's and r3's declared staff lists (xlsx), under a
    different way of writing the brackets; the tender form's example number, kept in every bidder's
    copy of the form, and the honest bidders' own numbers raise nothing."""
    found = of(leads, Signal.SHARED_PERSON, kind="certificate")
    assert [(x.bidders, x.evidence["certificate_number"]) for x in found] == [
        (("r2", "r3"), "苏建安C(2020)0034567")]
    assert found[0].strength == Strength.STRONG
    assert found[0].evidence["documents"] == {"r2": ["r2-项目管理机构组成表.xlsx"], "r3": ["r3-项目管理机构组成表.xlsx"]}


def test_certificate_numbers_are_read_from_labels_and_known_shapes():
    from collusion.signals.identity import certificate_numbers

    text = ("项目经理：张三，一级注册建造师，注册编号：苏１３２０６０８０１２３４，安全生产考核合格证书："
            "苏建安B（2019）0012345。证书编号：BJ-2019-004567。证号 A1234567有效。"
            f"身份证号 {corpus.SHARED_PM}，合同总价 1234567890123 元，电话 13912345678，证书编号：第12号")
    assert certificate_numbers(text) == {"苏132060801234", "苏建安B(2019)0012345", "BJ-2019-004567", "A1234567"}


def test_it_finds_the_regular_prices(leads):
    found = of(leads, Signal.PRICE_PATTERN, pattern="equal_differences")
    assert [x.bidders for x in found] == [("r1", "r2", "r3")]
    assert found[0].evidence["differences"] == ["1234.56", "1234.56"] and found[0].evidence["exact"]
    assert found[0].strength == Strength.MODERATE
    cluster = of(leads, Signal.PRICE_PATTERN, pattern="tight_cluster")
    assert [x.bidders for x in cluster] == [("r1", "r2", "r3")]


def test_it_finds_the_shared_machine_and_address(leads):
    machine = of(leads, Signal.SAME_MACHINE)
    assert [(x.bidders, x.evidence["value"]) for x in machine] == [(("r1", "r2"), "m-rigger")]
    net = of(leads, Signal.SAME_NETWORK)
    assert [(x.bidders, x.evidence["value"], x.evidence["stages"]) for x in net] == [
        (("r1", "r2"), "198.51.100.7", ["decryption", "upload"])]
    assert of(leads, Signal.SAME_CERTIFICATE) == []


def test_it_finds_decryptions_one_after_another(leads):
    found = of(leads, Signal.CLOSE_DECRYPTION)
    assert [x.bidders for x in found] == [("r1", "r2", "r3")]
    assert found[0].strength == Strength.WEAK and found[0].evidence["span_seconds"] == 2.0


def test_the_enabled_set_is_a_setting():
    from collusion.signals.run import AnalysisSettings

    bidders, tender = corpus.build(honest=3, paragraphs=8, with_pdf=False)
    only = AnalysisSettings(enabled=frozenset({Signal.PRICE_PATTERN}))
    assert {x.signal for x in analyse(facts_of(bidders, tender), only)} == {Signal.PRICE_PATTERN}


def test_the_same_corpus_without_the_tenders_text_would_flag_the_boilerplate():
    """The control: the boilerplate filter is what keeps honest bids quiet, not chance."""
    bidders, tender = corpus.build(honest=3, paragraphs=8, with_pdf=False)
    facts = facts_of(bidders, tender)
    facts.tender_documents = []
    from collusion.signals.run import AnalysisSettings
    from collusion.signals.text import TextSettings

    settings = AnalysisSettings(enabled=frozenset({Signal.SIMILAR_TEXT}), text=TextSettings(common_share=1.0))
    pairs = {x.bidders for x in analyse(facts, settings)}
    assert ("h1", "h2") in pairs
