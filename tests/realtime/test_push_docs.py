"""docs/protocol.md is the spec an independent client is written from (#19): every push event the
code emits is in its "Push payloads" table, and the table names no event the code does not emit."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "audit", "bidding", "evaluation", "realtime")
# The calls that append room events, and where their event name stands (a literal first after the
# fixed leading arguments): realtime.log.append_event and append_events, the hall's emit, the
# venues' broadcasts.
EMITTERS = [
    r'append_events?\(\s*[^,()]+(?:\([^()]*\))?\s*,\s*"([a-z][a-z0-9_.]*)"',
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


def section(title: str) -> str:
    text = (ROOT / "docs" / "protocol.md").read_text()
    return text.split(title, 1)[1].split("\n#", 1)[0]


def test_every_builtin_command_is_in_the_command_table_and_no_other():
    from realtime.commands import BUILTIN

    rows = [line.split("|")[1] for line in section("## 3. Commands").splitlines() if line.startswith("| `")]
    documented = {re.findall(r"`([^`]+)`", cell)[0] for cell in rows} - {"<kind>.<name>"}
    assert documented == set(BUILTIN), (sorted(documented), sorted(BUILTIN))


def test_the_media_token_reply_has_exactly_the_documented_fields():
    import ast

    tree = ast.parse((ROOT / "realtime" / "media.py").read_text())
    fn = next(n for n in ast.walk(tree) if isinstance(n, ast.AsyncFunctionDef) and n.name == "cmd_media_token")
    returned = [n.value for n in ast.walk(fn) if isinstance(n, ast.Return) and isinstance(n.value, ast.Dict)]
    assert len(returned) == 1
    keys = {k.value for k in returned[0].keys}
    rows = [line.split("|")[1].strip() for line in section("### Media tokens").splitlines()
            if line.startswith("| `")]
    assert {r.strip("`") for r in rows} == keys


def test_every_error_code_the_protocol_names_is_in_the_error_table():
    from common.errors import ErrorCode

    table = {re.findall(r"`([a-z_]+)`", line)[0] for line in section("## 4. Error codes").splitlines()
             if line.startswith("| `")}
    media = section("### Media tokens")
    named = set(re.findall(r"`([a-z_]+)`", media)) & {c.value for c in ErrorCode}
    assert named and named <= table, named - table
