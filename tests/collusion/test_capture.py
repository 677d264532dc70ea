"""What is captured as it happens, for the analysis: the client's user agent beside its address
(an HTTP request's header, a WebSocket handshake's), cleaned and bounded; the sealbid tool naming
itself on every request it makes."""

from __future__ import annotations

import urllib.request

from django.test import RequestFactory

from common.actor import MAX_USER_AGENT, Actor, clean_user_agent, scope_user_agent


def test_a_request_gives_its_user_agent_cleaned_and_bounded():
    request = RequestFactory().get("/", HTTP_USER_AGENT="Mozilla/5.0\x00\r\nX-Injected: 1 " + "x" * 1000,
                                   REMOTE_ADDR="198.51.100.7")
    actor = Actor.from_request(request)
    assert actor.ip == "198.51.100.7"
    assert actor.user_agent.startswith("Mozilla/5.0X-Injected: 1 ") and len(actor.user_agent) == MAX_USER_AGENT
    assert "\r" not in actor.user_agent and "\n" not in actor.user_agent and "\x00" not in actor.user_agent
    assert Actor.from_request(RequestFactory().get("/")).user_agent == ""


def test_a_websocket_handshake_gives_its_user_agent():
    scope = {"headers": [(b"host", b"x"), (b"User-Agent", b"sealbid/0.1.0 \xe6")]}
    assert scope_user_agent(scope) == "sealbid/0.1.0 æ"  # header bytes are latin-1, never a crash
    assert scope_user_agent({"headers": []}) == "" and scope_user_agent({}) == ""
    assert clean_user_agent(None) == "" and clean_user_agent(42) == ""


def test_sealbid_names_itself_on_every_request(monkeypatch):
    from sealbid.client import Client, tool_version

    sent = []

    class Answer:
        status, headers = 200, {"Content-Type": "application/json"}

        def read(self):
            return b"{}"

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    def fake_urlopen(req, timeout):
        sent.append(req)
        return Answer()

    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    Client("http://127.0.0.1:9", "token").json("GET", "/lots/1")
    Client("http://127.0.0.1:9", "token").request("PUT", "/uploads/1", data=b"x", headers={"Upload-Offset": "0"})
    assert [r.get_header("User-agent") for r in sent] == [f"sealbid/{tool_version()}"] * 2
