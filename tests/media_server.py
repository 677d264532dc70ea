"""A real media server for the tests: Debian's Janus, started from the configuration the platform
renders (``realtime.media_config``, as ``manage.py janus_config`` writes it) in a temporary folder,
on free ports, and stopped at the end. Skips (or fails in CI) through ``need_tool`` without it."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import need_tool


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Janus:
    process: subprocess.Popen
    folder: Path
    ws_url: str
    api_url: str
    token_secret: str
    admin_key: str
    room_secret: str
    recordings: Path

    def settings(self, settings) -> None:
        """Point the platform's settings (pytest-django's ``settings`` fixture) at this server."""
        settings.MEDIA_JANUS_WS = self.ws_url
        settings.MEDIA_JANUS_API = self.api_url
        settings.MEDIA_TOKEN_SECRET = self.token_secret
        settings.MEDIA_ADMIN_KEY = self.admin_key
        settings.MEDIA_ROOM_SECRET = self.room_secret
        settings.MEDIA_RECORDINGS_DIR = self.recordings

    def log(self) -> str:
        path = self.folder / "janus.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # Janus closes its recordings on SIGINT
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_janus(folder: Path, *, rtp_ports: tuple[int, int] | None = None, events_url: str = "",
                events_secret: str = "") -> Janus:
    from realtime.media_config import JanusSetup, render

    janus = need_tool("janus")
    folder.mkdir(parents=True, exist_ok=True)
    recordings = folder / "recordings"
    recordings.mkdir()
    ws_port, http_port = free_port(), free_port()
    first = int(os.environ.get("MEDIA_TEST_RTP_FIRST", "9340"))
    setup = JanusSetup(folder=str(folder), token_secret=secrets.token_urlsafe(32),
                       admin_key=secrets.token_urlsafe(16), ws_port=ws_port, http_port=http_port,
                       rtp_ports=rtp_ports or (first, first + 59), recordings=str(recordings),
                       events_url=events_url, events_secret=events_secret)
    for name, text in render(setup).items():
        (folder / name).write_text(text)
    log = open(folder / "janus.log", "wb")
    process = subprocess.Popen([janus, "-C", str(folder / "janus.jcfg"), "-F", str(folder)],
                               stdout=log, stderr=subprocess.STDOUT)
    server = Janus(process=process, folder=folder, ws_url=f"ws://127.0.0.1:{ws_port}",
                   api_url=f"http://127.0.0.1:{http_port}/janus", token_secret=setup.token_secret,
                   admin_key=setup.admin_key, room_secret=secrets.token_urlsafe(16), recordings=recordings)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"janus exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/janus/info", timeout=1) as r:
                if json.loads(r.read()).get("janus") == "server_info":
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"janus did not answer within 20 s:\n{server.log()}")
