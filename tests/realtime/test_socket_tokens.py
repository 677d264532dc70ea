"""How a program without a browser signs its WebSocket in (docs/protocol.md §1, #19): its API token
buys a one-time ticket (``POST /api/v1/realtime/token``), good for one handshake within 60 s, bound
to its user, audited when issued and when used."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from accounts.models import SocketToken
from audit.models import AuditEntry
from config.asgi import application
from tests.bidding.conftest import token_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    from realtime.hubs import _HUBS

    hub = _HUBS.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


def _ticket(user) -> dict:
    res = token_client(user).post("/api/v1/realtime/token")
    assert res.status_code == 201, res.content
    return res.json()


async def _open(path="/ws/v1/", subprotocols=None, headers=None):
    ws = WebsocketCommunicator(application, path, headers=headers or [], subprotocols=subprotocols)
    connected, subprotocol = await ws.connect()
    if not connected:
        return False, None, None
    first = await ws.receive_output(timeout=3)
    if first["type"] == "websocket.send":
        await ws.disconnect()
        return True, subprotocol, json.loads(first["text"])
    return True, subprotocol, first


async def test_a_ticket_opens_one_socket_for_its_user_and_is_audited(people):
    body = await database_sync_to_async(_ticket)(people["alice"])
    assert body["token"].startswith("kbs_") and body["expires_in"] == 60
    assert body["subprotocols"] == ["kaibiao.v1", "kaibiao.token." + body["token"]]
    row = await database_sync_to_async(SocketToken.objects.get)()
    assert row.user_id == people["alice"].pk and body["token"][4:] not in row.digest  # only the hash
    assert (row.expires_at - row.created_at) == timedelta(seconds=60)

    # A program: no Origin, no cookie, the ticket as a subprotocol.
    connected, subprotocol, hello = await _open(subprotocols=body["subprotocols"])
    assert connected and subprotocol == "kaibiao.v1"  # the ticket is never echoed
    assert hello["hello"]["user"] == "alice" and hello["hello"]["role"] == "bidder"
    actions = await database_sync_to_async(lambda: list(AuditEntry.objects.filter(
        action__startswith="accounts.socket_token.").order_by("index").values_list("action", "actor_id")))()
    assert actions == [("accounts.socket_token.issued", people["alice"].pk),
                       ("accounts.socket_token.used", people["alice"].pk)]

    # Once only: the same ticket again signs nothing in.
    connected, _, first = await _open(subprotocols=body["subprotocols"])
    assert connected and first == {"type": "websocket.close", "code": 4401}


async def test_a_ticket_in_the_query_works_and_an_expired_or_forged_one_does_not(people):
    body = await database_sync_to_async(_ticket)(people["bob"])
    connected, _, hello = await _open(path=f"/ws/v1/?token={body['token']}")
    assert connected and hello["hello"]["user"] == "bob"

    late = await database_sync_to_async(_ticket)(people["bob"])
    await database_sync_to_async(lambda: SocketToken.objects.filter(used_at=None).update(
        expires_at=SocketToken.objects.filter(used_at=None).values("created_at")[:1]))()
    for ticket in (late["token"], "kbs_forged", "kbs_", "kbt_" + late["token"][4:], "x" * 300):
        connected, _, first = await _open(subprotocols=["kaibiao.token." + ticket])
        assert connected and first == {"type": "websocket.close", "code": 4401}, ticket


async def test_a_ticket_reads_no_cookie_and_without_one_a_program_gets_no_socket(people):
    client = Client()
    await database_sync_to_async(client.force_login)(people["host"])
    cookie = (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())
    # No Origin and no ticket: refused at the handshake, cookie or not.
    assert (await _open(headers=[cookie]))[0] is False
    # A forged ticket next to a real session cookie: the cookie is not read.
    connected, _, first = await _open(subprotocols=["kaibiao.token.kbs_forged"], headers=[cookie])
    assert connected and first == {"type": "websocket.close", "code": 4401}
    # A page of another site cannot use a ticket either: its Origin is still checked.
    body = await database_sync_to_async(_ticket)(people["alice"])
    refused = await _open(subprotocols=body["subprotocols"],
                          headers=[(b"host", b"127.0.0.1:8000"), (b"origin", b"https://evil.example")])
    assert refused[0] is False


def test_only_a_signed_in_caller_gets_a_ticket(people):
    res = Client().post("/api/v1/realtime/token")
    assert res.status_code == 401 and res.json()["error"]["code"] == "unauthenticated"
    assert not SocketToken.objects.exists()
