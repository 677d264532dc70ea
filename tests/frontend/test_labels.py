"""The label catalogue covers every code the source defines, in Chinese and in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from audit.alerts import TABLE as ALERTS
from bidding.lifecycle import Status
from bidding.models_bids import BidSubmission
from bidding.models_opening import OpeningBid, RecordConfirmation
from bidding.phases import Event
from collusion.models import Case, Lead
from collusion.signals.leads import Article, Signal, Strength
from common import labels
from evaluation.rules.alerts import RETURN_REASONS
from common.beijing import beijing
from common.errors import ErrorCode
from common.roles import Role
from evaluation.models import ReportSignature

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "bidding", "evaluation", "realtime", "collusion", "award", "exchange")


def source_action_codes() -> set[str]:
    """Every audit action code written in the apps' source, the f-string families expanded."""
    codes: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            codes |= set(re.findall(r'log_action\(\s*"([a-z_]+\.[a-z_]+\.[a-z_]+)"', text))
            codes |= set(re.findall(r'audit\(session, "(evaluation\.[a-z_]+\.[a-z_]+)"', text))
            codes |= set(re.findall(r'"(evaluation\.draw\.[a-z_]+)"', text))  # the draw's steps name theirs
            codes |= {f"bidding.opening.{a}" for a in re.findall(r'audit\(op, "([a-z_]+)"', text)}
    codes |= {f"bidding.opening.{e.value}" for e in Event}
    codes |= {f"bidding.opening.bid_{s}" for s in ("revoked", "withdrawn")}
    codes |= {f"bidding.opening.record_{s}" for s in RecordConfirmation.State.values}
    codes |= {f"evaluation.report.{k}" for k in ReportSignature.Kind.values}
    return {c for c in codes if not c.startswith(("realtime.demo.", "bench."))}


@pytest.mark.parametrize("kind, codes", [
    ("error", [c.value for c in ErrorCode]),
    ("lot_status", [s.value for s in Status]),
    ("submission_status", list(BidSubmission.Status.values)),
    ("role", [r.value for r in Role]),
    ("decided_by", ["score", "price", "evaluated_price", "draw", "last"]),
    ("action", sorted(source_action_codes())),
    ("alert", sorted({alert.code for _, alert in ALERTS})),
    ("return_reason", sorted(RETURN_REASONS)),
    ("collusion_signal", [s.value for s in Signal]),
    ("collusion_article", [a.value for a in Article]),
    ("collusion_strength", [s.value for s in Strength]),
    ("case_status", list(Case.Status.values)),
    ("lead_decision", [d for d in Lead.Decision.values if d]),
    ("bid_status", list(OpeningBid.Status.values)),
    ("record_state", list(RecordConfirmation.State.values)),
    ("report_signature", list(ReportSignature.Kind.values)),
])
def test_every_code_has_a_label(kind, codes):
    missing = [c for c in codes if c not in labels.KINDS[kind]]
    assert not missing, f"{kind} codes without a label in common/labels.py: {missing}"


def test_every_label_is_translated_into_chinese_and_differs_from_its_code():
    untranslated = []
    for kind, table in labels.KINDS.items():
        for code in table:
            with translation.override("en"):
                english = labels.label(kind, code)
            with translation.override("zh-hans"):
                chinese = labels.label(kind, code)
            if chinese == english or not re.search(r"[\u4e00-\u9fff]", chinese) or english == code:
                untranslated.append((kind, code, english, chinese))
    assert not untranslated, untranslated


def test_an_unknown_code_comes_back_as_itself():
    assert labels.label("action", "x.y.z") == "x.y.z" and labels.label("lot_status", None) == ""


def test_times_read_in_beijing_time_with_the_zone_where_asked():
    with translation.override("zh-hans"):
        assert beijing("2026-12-03T07:12:00.000000Z") == "2026年12月03日 15:12:00"
        assert beijing("2026-12-03T07:12:00Z", seconds=False, zone=True) == "2026年12月03日 15:12（北京时间，UTC+8）"
    with translation.override("en"):
        assert beijing("2026-12-03T07:12:00+00:00", zone=True) == "2026-12-03 15:12:00 (Beijing time, UTC+8)"
    assert beijing(None) == "—"


def test_lists_are_joined_in_the_page_language():
    from django.template import Context, Template

    from common.wording import join_list

    template = Template('{% load kb %}{{ names|listed }}')
    with translation.override("zh-hans"):
        assert join_list(["E1", "E3"]) == "E1、E3"
        assert template.render(Context({"names": ["南京市", "苏州市"]})) == "南京市、苏州市"
    with translation.override("en"):
        assert join_list(["E1", "E3"]) == "E1, E3"  # never "E1、E3" on an English page
        assert template.render(Context({"names": ["南京市", "苏州市"]})) == "南京市, 苏州市"
        assert Template('{% load kb %}{{ r|clauses }}').render(Context({"r": ["a", "b"]})) == "a; b"
        assert Template('{% load kb %}X{{ c|paren }}').render(Context({"c": "9132"})) == "X (9132)"
    with translation.override("zh-hans"):
        assert Template('{% load kb %}{{ r|clauses }}').render(Context({"r": ["甲", "乙"]})) == "甲；乙"
        assert Template('{% load kb %}X{{ c|paren }}').render(Context({"c": "9132"})) == "X（9132）"
        assert Template('{% load kb %}状态{% colon %}草稿').render(Context({})) == "状态：草稿"


def test_every_console_alert_names_actions_the_platform_writes():
    """An alert whose action is never written highlights nothing: "evaluation.venue.dropped" while the
    venue check writes "evaluation.venue.down", "bidding.opening.paused" for "bidding.opening.pause"."""
    codes = source_action_codes()
    for app in (*APPS, "common"):  # and the actions named by a constant (ALERT_ACTION = "audit.integrity.failed")
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" not in path.parts and path.name not in ("alerts.py", "labels.py"):
                codes |= set(re.findall(r'[A-Z_]+ = "([a-z_]+\.[a-z_]+\.[a-z_]+)"', path.read_text()))
                codes |= set(re.findall(r'"(realtime\.clock\.[a-z_]+)"', path.read_text()))
    for prefix, alert in ALERTS:
        written = [c for c in codes if c == prefix or c.startswith((prefix + ".", prefix + "_"))]
        assert written, f"the console's alert {alert.code!r} names {prefix!r}, which nothing writes"


def test_every_platform_process_the_log_names_has_a_label():
    """The console shows the platform's own processes (``Actor.system(name)``) by a label in each
    language, never the bare name ("ticker", "evaluation.presence")."""
    names = {"system"}
    for app in (*APPS, "common", "bidding"):
        for path in (ROOT / app).rglob("*.py"):
            text = path.read_text()
            names |= set(re.findall(r'Actor\.system\("([a-z_.]+)"\)', text))
            if "Actor.system(ACTOR)" in text:
                names |= set(re.findall(r'^ACTOR = "([a-z_.]+)"', text, re.M))
    names -= {"bench", "evaluation.testing", "exchange.testing"}  # benchmarks' and tests' own
    assert names - set(labels.SYSTEM_ACTOR) == set()
    for lang in ("zh-hans", "en"):
        with translation.override(lang):
            for name in names:
                text = labels.label("system_actor", name)
                assert text != name and bool(re.search(r"[\u4e00-\u9fff]", text)) == (lang == "zh-hans"), (lang, text)


@pytest.mark.parametrize("kind", ["bid_status", "record_state", "receipt_check", "report_signature", "system_actor",
                                  "lot_status", "submission_status", "cert_status", "step", "draw_state"])
def test_statuses_start_with_a_capital_in_english(kind):
    """A status is shown alone, as a badge or after a name ("Bidder 1: Confirmed"): in English it
    starts with a capital like every other label ("waiting for decryption" read as a slip)."""
    with translation.override("en"):
        lower = {code: labels.label(kind, code) for code in labels.KINDS[kind] if labels.label(kind, code)[:1].islower()}
    assert not lower, lower


def test_the_hall_and_the_venues_take_no_lower_case_status_of_their_own():
    """The pages' status labels are the catalogue's (or capitalised), so the test above covers them."""
    for name in ("views_bids.py", "views_venues.py"):
        text = (ROOT / "frontend" / name).read_text()
        found = re.findall(r'_\("((?:waiting|decrypted|revoked|withdrawn|confirmed|objected|deemed|verified|not checked|'
                           r'signed|dissented|not yet|present|missing|valid|pending|scored|not scored|submitted)\b[^"]*)"\)', text)
        assert not found, (name, found)
