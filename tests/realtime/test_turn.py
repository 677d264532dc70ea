"""TURN credentials (docs/media.md, "TURN"): what ``media.token`` hands out in ``ice_servers`` is
accepted by a real coturn configured as docs/operations.md says (shared secret), for its lifetime
only, and a credential made with another secret is refused. coturn's own client allocates a relay
and sends through it."""

from __future__ import annotations

import subprocess
import time

import pytest

from crypto.media_tokens import turn_credential
from realtime.media import ice_servers
from tests.conftest import need_tool
from tests.media_server import free_port


@pytest.fixture
def coturn(tmp_path):
    server = need_tool("turnserver")
    port = free_port()
    secret = "turn-secret-for-tests"
    proc = subprocess.Popen([server, "-n", "--listening-port", str(port), "--listening-ip", "127.0.0.1",
                             "--relay-ip", "127.0.0.1", "--realm", "kb.test", "--use-auth-secret",
                             "--static-auth-secret", secret, "--no-cli", "--no-tls", "--no-dtls",
                             "--allow-loopback-peers", "--log-file", str(tmp_path / "turn.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    assert proc.poll() is None, (tmp_path / "turn.log").read_text() if (tmp_path / "turn.log").exists() else ""
    yield port, secret
    proc.terminate()
    proc.wait(timeout=10)


def relay(port: int, username: str, credential: str) -> int:
    client = need_tool("turnutils_uclient")
    done = subprocess.run([client, "-u", username, "-w", credential, "-p", str(port), "-n", "3", "-m", "1", "-y",
                           "127.0.0.1"], capture_output=True, timeout=30)
    return done.returncode


def test_the_ice_servers_credential_relays_and_nothing_else_does(coturn, settings):
    port, secret = coturn
    settings.MEDIA_TURN_URLS = [f"turn:127.0.0.1:{port}?transport=udp"]
    settings.MEDIA_TURN_SECRET = secret
    (server,) = ice_servers(41, int(time.time()) + 60)
    assert server["urls"] == settings.MEDIA_TURN_URLS and server["username"].endswith(":u41")
    assert relay(port, server["username"], server["credential"]) == 0
    late = turn_credential(secret, expires=int(time.time()) - 5, user="u41")
    assert relay(port, *late) != 0
    forged = turn_credential("another-secret", expires=int(time.time()) + 60, user="u41")
    assert relay(port, *forged) != 0
    assert relay(port, server["username"].replace(":u41", ":u42"), server["credential"]) != 0


def test_without_turn_settings_there_are_no_ice_servers(settings):
    settings.MEDIA_TURN_URLS, settings.MEDIA_TURN_SECRET = [], ""
    assert ice_servers(1, int(time.time()) + 60) == []
