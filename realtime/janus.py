"""The platform's own calls to the media server (Janus's HTTP API on 127.0.0.1, ``MEDIA_JANUS_API``):
create a room, list its participants, kick one, destroy it. The browsers talk to Janus's WebSocket
API with the tokens ``realtime.media`` issues; nothing here runs in a browser.

Each call opens a Janus session with a session token signed for itself, attaches the VideoRoom,
sends one request and destroys the session. Sync (stdlib ``urllib``), so callers run it in a thread.
Failures raise ``MediaUnavailable`` (the server is down, refuses, or answers an error).
"""

from __future__ import annotations

import json
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings

from crypto.media_tokens import session_token

PLUGIN = "janus.plugin.videoroom"
TIMEOUT_SECONDS = 5


class MediaUnavailable(Exception):
    pass


@dataclass(frozen=True)
class JanusApi:
    url: str  # http://127.0.0.1:8088/janus
    token_secret: str
    admin_key: str
    room_secret: str

    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        body = {**body, "transaction": secrets.token_hex(8),
                "token": session_token(self.token_secret, expires=int(time.time()) + 60, plugin=PLUGIN)}
        request = urllib.request.Request(self.url + path, json.dumps(body).encode(),
                                         {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                answer = json.loads(response.read())
        except (OSError, urllib.error.URLError, ValueError) as exc:
            raise MediaUnavailable(f"the media server does not answer: {exc}") from None
        if answer.get("janus") == "error":
            raise MediaUnavailable(f"the media server refused: {answer.get('error')}")
        return answer

    def request(self, body: dict[str, Any]) -> dict[str, Any]:
        """One VideoRoom request (synchronous ones: create, exists, listparticipants, kick, destroy)
        and its ``plugindata.data``; a VideoRoom ``error`` raises ``MediaUnavailable`` except the
        codes in ``body``'s ``_ok_errors``."""
        ok_errors = body.pop("_ok_errors", ())
        session = self._post("", {"janus": "create"})["data"]["id"]
        try:
            handle = self._post(f"/{session}", {"janus": "attach", "plugin": PLUGIN})["data"]["id"]
            answer = self._post(f"/{session}/{handle}", {"janus": "message", "body": body})
        finally:
            try:
                self._post(f"/{session}", {"janus": "destroy"})
            except MediaUnavailable:
                pass
        data = (answer.get("plugindata") or {}).get("data") or {}
        if data.get("error_code") and data["error_code"] not in ok_errors:
            raise MediaUnavailable(f"the media server refused: {data.get('error')}")
        return data

    def ensure_room(self, room: str, *, description: str, publishers: int, rec_dir: str) -> bool:
        """Create ``room`` unless it exists (True when created). Rooms require signed tokens (so a
        room id alone opens nothing), are private (not listed) and recorded into ``rec_dir``."""
        if self.request({"request": "exists", "room": room}).get("exists"):
            return False
        data = self.request({
            "request": "create", "room": room, "admin_key": self.admin_key, "secret": self.room_secret,
            "description": description[:100], "is_private": True, "signed_tokens": True,
            "publishers": publishers, "record": bool(rec_dir), "rec_dir": rec_dir, "lock_record": True,
            "notify_joining": False, "audiolevel_event": False, "bitrate": 512_000,
            "_ok_errors": (427,),  # created meanwhile by another worker: fine
        })
        return data.get("videoroom") == "created"

    def participants(self, room: str) -> list[dict[str, Any]]:
        data = self.request({"request": "listparticipants", "room": room, "_ok_errors": (426,)})
        return list(data.get("participants") or [])

    def kick(self, room: str, participant_id: Any) -> bool:
        """Kick a participant; False when it (or the room) was already gone."""
        data = self.request({"request": "kick", "room": room, "secret": self.room_secret, "id": participant_id,
                             "_ok_errors": (426, 428)})
        return not data.get("error_code")

    def destroy(self, room: str) -> bool:
        """Destroy ``room`` (its recordings are closed); False when it did not exist."""
        data = self.request({"request": "destroy", "room": room, "secret": self.room_secret,
                             "_ok_errors": (426,)})
        return data.get("videoroom") == "destroyed"


def janus_api() -> JanusApi:
    return JanusApi(url=settings.MEDIA_JANUS_API, token_secret=settings.MEDIA_TOKEN_SECRET,
                    admin_key=settings.MEDIA_ADMIN_KEY, room_secret=settings.MEDIA_ROOM_SECRET)


def media_configured() -> bool:
    return bool(settings.MEDIA_JANUS_WS and settings.MEDIA_TOKEN_SECRET and settings.MEDIA_ADMIN_KEY
                and settings.MEDIA_ROOM_SECRET)


def recordings_dir(room: str) -> Path:
    return Path(settings.MEDIA_RECORDINGS_DIR) / room
