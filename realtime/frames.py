"""The WebSocket frame shapes (see docs/protocol.md). Pure: parsing and building, no I/O.

- command (client → server): ``{"v": 1, "id": "c1", "cmd": "time.sync", "room": "...", "payload": {}}``
- reply   (server → client): ``{"v": 1, "id": "c1", "ok": true, "payload": {...}}`` or
  ``{"v": 1, "id": "c1", "ok": false, "error": {"code", "message", "temporary"}}``
- push    (server → client): ``{"v": 1, "room", "stream", "seq", "epoch", "ts", "event", "payload"}``
  (``seq`` is gap-free per ``stream``: see docs/protocol.md, "Visibility and gaps")
- notices (server → client, no ``seq``): ``hello``, ``hb`` (heartbeat), ``resync``, ``presence``
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from common.errors import BadRequest, ErrorCode, PlatformError

PROTOCOL_VERSION = 1
MAX_FRAME_BYTES = 64 * 1024
MAX_ID_LENGTH = 64


@dataclass(frozen=True)
class Command:
    id: str
    cmd: str
    room: str = ""
    payload: dict[str, Any] = field(default_factory=dict)


def parse_command(text: str | None) -> Command:
    """Parse one client frame or raise ``BadRequest`` (never anything else)."""
    if text is None:
        raise BadRequest("frames are JSON text")
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise BadRequest(f"frames are at most {MAX_FRAME_BYTES} bytes")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("a frame is a JSON object")
    cid, cmd = data.get("id"), data.get("cmd")
    if not isinstance(cid, str) or not cid or len(cid) > MAX_ID_LENGTH:
        raise BadRequest(f"'id' is a string of 1 to {MAX_ID_LENGTH} characters")
    version = data.get("v")
    if type(version) is not int or version != PROTOCOL_VERSION:
        # Checked before anything else is read: a frame of another version is never executed,
        # whatever its other members mean there (docs/protocol.md §2).
        raise PlatformError(ErrorCode.UNSUPPORTED_VERSION,
                            f"frames carry \"v\": {PROTOCOL_VERSION} on this endpoint",
                            details={"supported": [PROTOCOL_VERSION]})
    if not isinstance(cmd, str) or not cmd:
        raise BadRequest("'cmd' is a non-empty string", details={"id": cid})
    room = data.get("room", "")
    payload = data.get("payload", {})
    if not isinstance(room, str) or not isinstance(payload, dict):
        raise BadRequest("'room' is a string and 'payload' an object", details={"id": cid})
    return Command(id=cid, cmd=cmd, room=room, payload=payload)


def command_id_of(text: str | None) -> str | None:
    """Best effort: the id of a frame that failed to parse, so the error can echo it."""
    try:
        data = json.loads(text or "")
        cid = data.get("id") if isinstance(data, dict) else None
        return cid if isinstance(cid, str) and len(cid) <= MAX_ID_LENGTH else None
    except (ValueError, RecursionError):
        return None


def dumps(frame: dict[str, Any]) -> str:
    return json.dumps(frame, ensure_ascii=False, separators=(",", ":"))


def ok_reply(cid: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": cid, "ok": True, "payload": payload or {}}


def error_reply(cid: str | None, error: PlatformError) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "id": cid, "ok": False, **error.as_dict()}


def push(room: str, seq: int, epoch: str, ts: str, event: str, payload: dict[str, Any], *,
         stream: str = "all") -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "room": room, "stream": stream, "seq": seq, "epoch": epoch,
            "ts": ts, "event": event, "payload": payload}


def heartbeat(server_ms: int) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "hb": server_ms}


def resync(room: str | None, reason: str) -> dict[str, Any]:
    """The client must (re)join ``room`` with its positions, or every room when ``room`` is None."""
    return {"v": PROTOCOL_VERSION, "room": room, "resync": {"reason": reason}}


def presence(room: str, summary: dict[str, Any]) -> dict[str, Any]:
    return {"v": PROTOCOL_VERSION, "room": room, "presence": summary}
