"""Fuzzing the WebSocket frame parser (realtime/frames.py, docs/protocol.md): ``parse_command``
either returns a ``Command`` or raises ``BadRequest`` or, for a frame of another protocol version,
``unsupported_version`` (docs/protocol.md §2) — never anything else — and
``command_id_of`` never raises, whatever text arrives."""

from __future__ import annotations

import json

from hypothesis import given, settings

from tests.conftest import IN_CI
from hypothesis import strategies as st

from common.errors import PlatformError
from realtime import frames
from realtime.frames import Command, command_id_of, parse_command

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
FIELD = st.sampled_from(["v", "id", "cmd", "room", "payload"])
FRAME_LIKE = st.dictionaries(FIELD | st.text(max_size=6), JSON, max_size=7)
FUZZ = settings(max_examples=200, deadline=None, derandomize=IN_CI)


def parse(text):
    try:
        command = parse_command(text)
    except PlatformError as exc:
        assert exc.code.value in ("bad_request", "unsupported_version")
        return None
    assert isinstance(command, Command) and isinstance(command.payload, dict)
    assert 1 <= len(command.id) <= frames.MAX_ID_LENGTH and command.cmd
    return command


@given(st.text(max_size=300) | st.none())
@FUZZ
def test_any_text_parses_or_is_bad_request(text):
    parse(text)
    command_id_of(text)


@given(FRAME_LIKE)
@FUZZ
def test_frame_shaped_json_parses_or_is_bad_request(frame):
    text = json.dumps(frame)
    parse(text)
    cid = command_id_of(text)
    assert cid is None or cid == frame.get("id")


@given(st.integers(1, 3000))
@settings(max_examples=20, deadline=None, derandomize=IN_CI)
def test_deeply_nested_or_oversized_frames_are_bad_request(depth):
    for text in ('{"v": 1, "id": "a", "cmd": "x", "payload": ' + "[" * depth + "]" * depth + "}",
                 "[" * depth, '{"id": "' + "x" * (depth * 30) + '"}'):
        parse(text)
        command_id_of(text)


def test_a_frame_over_the_size_limit_is_bad_request():
    text = json.dumps({"id": "a", "cmd": "x", "payload": {"t": "x" * frames.MAX_FRAME_BYTES}})
    assert parse(text) is None
