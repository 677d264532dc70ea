"""docs/protocol.md is the spec an independent client is written from (#19): every push event the
code emits is in its "Push payloads" table, and the table names no event the code does not emit."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "bidding", "evaluation", "realtime")
# The calls that append room events, and where their event name stands (a literal first after the
# fixed leading arguments): realtime.log.append_event, the hall's emit, the venues' broadcasts.
EMITTERS = [
    r'append_event\(\s*[^,()]+(?:\([^()]*\))?\s*,\s*"([a-z][a-z0-9_.]*)"',
    r'\bemit\(\s*op\s*,\s*"([a-z][a-z0-9_.]*)"',
    r'\bbroadcast\(\s*session\s*,\s*"([a-z][a-z0-9_.]*)"',
    r'\bto_member\(\s*session\s*,\s*\w+\s*,\s*"([a-z][a-z0-9_.]*)"',
    r'\bto_supervisors\(\s*session\s*,\s*"([a-z][a-z0-9_.]*)"',
]


def emitted_events() -> set[str]:
    found: set[str] = set()
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            for pattern in EMITTERS:
                found |= set(re.findall(pattern, text))
    return found


def documented_events() -> set[str]:
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("### Push payloads", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names |= set(re.findall(r"`([a-z][a-z0-9_]*\.[a-z0-9_.]+)`", first_cell))
    return names


def test_the_scan_finds_the_events_of_every_room_kind():
    # Guards the scan itself: if the emitters' shapes change, this fails before the check below
    # silently compares nothing.
    emitted = emitted_events()
    assert {"hall.progress", "hall.chat", "eval.step", "eval.my_sheet", "eval.replacement",
            "audit.entry", "demo.posted"} <= emitted, emitted
    assert len(emitted) >= 35


def test_every_emitted_event_is_documented_and_every_documented_one_emitted():
    emitted, documented = emitted_events(), documented_events()
    assert not emitted - documented, f"emitted but not in docs/protocol.md: {sorted(emitted - documented)}"
    assert not documented - emitted, f"documented but never emitted: {sorted(documented - emitted)}"


def test_a_documented_event_has_its_payload_and_stream():
    text = (ROOT / "docs" / "protocol.md").read_text()
    section = text.split("### Push payloads", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1:-1] for line in section.splitlines() if line.startswith("| `")]
    for event, room, stream, payload in rows:
        assert room.strip() and stream.strip() and payload.strip().startswith("`{"), (event, payload)
