"""The signals one by one, and what hostile or odd input does to them."""

from __future__ import annotations

import io
import random
import zipfile
from datetime import datetime, timedelta, timezone

import pytest

from collusion.signals.extract import read_document
from collusion.signals.graph import GraphSettings, TenderOutcome, co_bidding
from collusion.signals.identity import Observation, id_numbers, shared_observations
from collusion.signals.leads import Signal, Strength
from collusion.signals.prices import close_decryptions, price_patterns

from . import corpus


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def test_a_zip_bomb_stops_at_the_inflation_budget():
    bomb = _zip({"word/document.xml": b"<a>" + b" " * (50 << 20) + b"</a>"})
    assert len(bomb) < 200_000
    assert read_document("x.docx", bomb, max_inflated=1 << 20).problem == "too_large"


def test_an_entity_bomb_is_unreadable_not_expanded():
    lol = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
           b'<cp:coreProperties xmlns:cp="x"><dc:creator xmlns:dc="http://purl.org/dc/elements/1.1/">&b;'
           b"</dc:creator></cp:coreProperties>")
    facts = read_document("x.docx", _zip({"docProps/core.xml": lol}))
    assert facts.problem == "unreadable" and facts.metadata == {}


@pytest.mark.parametrize("part", ["word/document.xml", "docProps/app.xml"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16"])
def test_any_dtd_makes_a_part_unreadable_whatever_its_encoding(part, encoding):
    """A DTD (an internal entity, an external one reading a local file) in the body or in the
    properties, in UTF-8 or hidden in UTF-16: never expanded, never fetched — the document is
    unreadable; the same part without the DTD reads."""
    def xml(doctype: str) -> bytes:
        text = (f'<?xml version="1.0" encoding="{encoding}"?>{doctype}'
                '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                "<w:body><w:p><w:r><w:t>正文</w:t></w:r></w:p></w:body></w:document>")
        return text.encode(encoding)

    for doctype in ('<!DOCTYPE d [<!ENTITY x "xxxxxxxxxx">]>', '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>',
                    '<!DOCTYPE d SYSTEM "http://127.0.0.1:9/evil.dtd">'):
        facts = read_document("x.docx", _zip({part: xml(doctype)}))
        assert facts.problem == "unreadable" and facts.text == "", doctype
    assert read_document("x.docx", _zip({"word/document.xml": xml("")})).text == "正文"


def test_garbage_and_unknown_types_are_problems():
    assert read_document("x.pdf", b"%PDF-1.7 nonsense").problem == "unreadable"
    assert read_document("x.xlsx", b"PK\x03\x04 broken").problem == "unreadable"
    assert read_document("x.dwg", b"anything").problem == "unsupported"


def test_pdf_metadata_text_and_images_are_read():
    image = corpus.png(5)
    from weasyprint import HTML
    import base64

    data = HTML(string='<html><head><meta name="author" content="某人"></head><body><p>技术标正文</p>'
                       f'<img src="data:image/png;base64,{base64.b64encode(image).decode()}"></body></html>').write_pdf()
    facts = read_document("a.pdf", data)
    assert facts.problem == "" and facts.metadata["author"] == "某人"
    assert "技术标正文" in facts.text
    assert len(facts.media) == 1 and facts.media[0][2] > 1000


def test_random_honest_prices_rarely_make_a_pattern():
    """False positives of the price signal on 2,000 tenders of 8 independent prices each (±8 % of
    an estimate, to the fen): the figure docs/collusion.md quotes."""
    rng = random.Random(3)
    flagged = {"equal_differences": 0, "equal_ratios": 0, "tight_cluster": 0, "ring_above_low": 0,
               "around_benchmark": 0}
    for _ in range(2000):
        estimate = rng.randint(5_000_000_00, 50_000_000_00)
        prices = {f"b{i}": int(estimate * rng.uniform(0.92, 1.08)) for i in range(8)}
        mean = sum(prices.values()) // len(prices)  # a mean-based 评标基准价
        for x in price_patterns(prices, benchmark_fen=mean, benchmark_kind="mean"):
            flagged[x.evidence["pattern"]] += 1
    print(flagged)
    from .docfigures import price_rows

    assert price_rows() == flagged  # the figures docs/collusion.md quotes are these
    assert flagged["equal_differences"] <= 4 and flagged["equal_ratios"] <= 4
    assert flagged["tight_cluster"] <= 60 and flagged["ring_above_low"] <= 60


def test_bids_placed_around_the_benchmark():
    """A ring that computed the mean-based benchmark from its own prices puts three bids within
    0.3 % of it (two above, one below): found, with each bid's deviation; without a benchmark (the
    lowest-price rule, or no evaluation yet) there is nothing to be around."""
    prices = {"a": 100_000_000, "b": 100_250_000, "c": 99_800_000, "d": 108_000_000, "e": 92_000_000}
    found = [x for x in price_patterns(prices, benchmark_fen=100_010_000, benchmark_kind="mean")
             if x.evidence["pattern"] == "around_benchmark"]
    assert [(x.bidders, x.strength) for x in found] == [(("a", "b", "c"), Strength.WEAK)]
    assert found[0].evidence["benchmark"] == "1000100.00" and found[0].evidence["benchmark_kind"] == "mean"
    assert found[0].evidence["deviations_percent"] == {"c": "-0.210", "a": "-0.010", "b": "0.240"}
    assert found[0].evidence["others"] == 2
    assert not [x for x in price_patterns(prices) if x.evidence["pattern"] == "around_benchmark"]
    # not a tight cluster (0.45 % apart): only the benchmark shows it
    assert not [x for x in price_patterns(prices, benchmark_fen=100_010_000) if x.evidence["pattern"] == "tight_cluster"]
    # the analysis passes the tender's benchmark on
    from collusion.signals.run import TenderFacts, analyse

    facts = TenderFacts(bidders=[], prices=prices, benchmark_fen=100_010_000, benchmark_kind="mean")
    assert [x.bidders for x in analyse(facts) if x.evidence.get("pattern") == "around_benchmark"] == [("a", "b", "c")]


def test_the_benchmark_is_the_one_the_lots_evaluation_computes(db):
    """``gather.benchmark``: the session's price rule and drawn K over the decrypted prices, as the
    evaluation's own ``score_prices`` computes it; none for the lowest-price rule or before a session."""
    from fractions import Fraction

    from collusion.gather import benchmark
    from evaluation.rules.price import score_prices
    from evaluation.testing import build

    rule = {"benchmark": {"kind": "mean", "trim": [{"from": 5, "high": 1, "low": 1}], "k": {"min": "-3", "max": "0"}},
            "score": {"kind": "deviation", "deduction": "linear", "above": "2", "below": "1"}}
    sc = build(settings={"price_rule": rule})
    sc.session.k_percent = "-1.5"
    sc.session.save(update_fields=["k_percent"])
    prices = {"1": 100_000_000, "2": 100_300_001, "3": 99_700_000, "4": 120_000_000, "5": 90_000_000}
    expected = score_prices(sc.session.rules_settings, prices, k_percent="-1.5").benchmark
    value, kind = benchmark(sc.lot, prices)
    assert kind == "mean" and abs(Fraction(value) - expected) <= Fraction(1, 2)
    assert value == 98_500_000  # the highest and lowest trimmed: 300,000,001 / 3 × 0.985, to the fen
    low = build()
    assert benchmark(low.lot, prices) == (None, "")  # the lowest-price rule: ring_above_low's case
    from bidding.models import Lot

    lot = low.lot
    later = Lot.objects.create(project=lot.project, code="02", title="施工二", bid_deadline=lot.bid_deadline,
                               signin_opens_at=lot.signin_opens_at, evaluation_settings=sc.lot.evaluation_settings)
    assert benchmark(later, prices) == (None, "")  # no evaluation session yet


def test_round_prices_in_a_row_are_only_weak():
    leads = price_patterns({"a": 120_000_000, "b": 125_000_000, "c": 130_000_000})
    ap = [x for x in leads if x.evidence["pattern"] == "equal_differences"]
    assert [x.strength for x in ap] == [Strength.WEAK] and ap[0].evidence["round_prices"]


def test_an_honest_bid_in_between_does_not_hide_a_progression():
    leads = price_patterns({"a": 100_000_123, "x": 100_300_000, "b": 101_000_123, "c": 102_000_123})
    ap = [x for x in leads if x.evidence["pattern"] == "equal_differences"]
    assert [x.bidders for x in ap] == [("a", "b", "c")]


def test_equal_ratios_are_found():
    leads = price_patterns({"a": 100_000_000, "b": 105_000_000, "c": 110_250_000, "d": 150_000_017})
    gp = [x for x in leads if x.evidence["pattern"] == "equal_ratios"]
    assert [x.bidders for x in gp] == [("a", "b", "c")] and gp[0].evidence["ratios"] == ["1.050000", "1.050000"]


def test_a_ring_just_above_the_low_bid():
    leads = price_patterns({"low": 100_000_000, "r1": 100_400_000, "r2": 100_700_000, "h": 110_000_000})
    ring = [x for x in leads if x.evidence["pattern"] == "ring_above_low"]
    assert [x.bidders for x in ring] == [("low", "r1", "r2")]
    assert ring[0].evidence["ring"] == {"r1": "1004000.00", "r2": "1007000.00"}


def test_prices_that_are_not_integers_are_ignored():
    assert price_patterns({"a": 1.5, "b": "2", "c": True, "d": 3}) == []  # type: ignore[dict-item]


def test_decryptions_spread_out_raise_nothing():
    t0 = datetime(2026, 12, 1, tzinfo=timezone.utc)
    assert close_decryptions({f"b{i}": t0 + timedelta(seconds=10 * i) for i in range(6)}) == []


def test_an_ignored_network_is_not_a_lead():
    obs = [Observation("a", "ip", "10.1.2.3", "upload"), Observation("b", "ip", "10.1.2.3", "upload")]
    assert [x.signal for x in shared_observations(obs)] == [Signal.SAME_NETWORK]
    assert shared_observations(obs, ignored_networks=["10.1.0.0/16"]) == []


def test_identity_numbers_need_a_valid_check_digit():
    good = corpus.id_number("11010519800101123")
    bad = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert id_numbers(f"身份证 {good}，另 {bad}，电话 1{good}") == {good}


def _history(rng, n_tenders=400, pool=300):
    tenders = [TenderOutcome(f"t{n}", frozenset(f"c{x}" for x in rng.sample(range(pool), 6)),
                             None) for n in range(n_tenders)]
    return [TenderOutcome(t.key, t.bidders, sorted(t.bidders)[rng.randrange(6)]) for t in tenders]


def test_a_group_that_bids_together_with_one_winner_is_found_and_chance_is_not():
    rng = random.Random(1)
    tenders = _history(rng)
    assert co_bidding(tenders) == []  # 400 random tenders: no group stands out
    ring = frozenset({"g1", "g2", "g3"})
    for n in range(6):
        tenders.append(TenderOutcome(f"g{n}", ring | {f"c{n}"}, "g1"))
    found = co_bidding(tenders)
    assert [(x.bidders, x.evidence["pattern"], x.evidence["wins"]) for x in found] == [
        (("g1", "g2", "g3"), "one_wins", {"g1": 6})]


def test_a_group_whose_wins_go_round_is_found():
    tenders = [TenderOutcome(f"t{n}", frozenset({"a", "b", "c", f"x{n}"}), "abc"[n % 3]) for n in range(9)]
    found = co_bidding(tenders, GraphSettings(min_together=4))
    assert [(x.bidders, x.evidence["pattern"]) for x in found] == [(("a", "b", "c"), "rotation")]
    assert found[0].strength == Strength.STRONG


def test_settings_fail_loudly(settings):
    import pytest
    from django.core.exceptions import ImproperlyConfigured

    from collusion import conf

    settings.COLLUSION = {"enabled": ["same_machine", "telepathy"]}
    with pytest.raises(ImproperlyConfigured):
        conf.analysis_settings()
    settings.COLLUSION = {"text": {"windw": 10}}
    with pytest.raises(ImproperlyConfigured):
        conf.analysis_settings()
    settings.COLLUSION = {"colour": 1}
    with pytest.raises(ImproperlyConfigured):
        conf.raw()
    settings.COLLUSION = {"enabled": ["price_pattern"], "prices": {"ring_margin": "1/50"}, "text": {"window": 200}}
    a = conf.analysis_settings()
    assert {s.value for s in a.enabled} == {"price_pattern"} and a.text.window == 200
    assert str(a.prices.ring_margin) == "1/50"
