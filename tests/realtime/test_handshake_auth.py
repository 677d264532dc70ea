"""The handshake's session check as deployed (``config.asgi``: ``SessionAuthMiddleware`` behind the
Origin check): only a live, untampered session of a user whose password has not changed since it
was opened gets a socket; anything else is closed with 4401 (sign in)."""

from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.contrib.sessions.models import Session
from django.test import Client

from common import clock
from config.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
HOST = (b"host", b"127.0.0.1:8000")


@pytest.fixture(autouse=True)
async def _stop_hub():
    yield
    import asyncio

    from realtime.hubs import _HUBS

    hub = _HUBS.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()


def _sign_in(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


async def _open(session_key: str) -> tuple[WebsocketCommunicator, dict]:
    """The socket and its first output: the hello frame, or the close of an anonymous socket."""
    ws = WebsocketCommunicator(application, "/ws/v1/",
                               headers=[HOST, ORIGIN, (b"cookie", f"sessionid={session_key}".encode())])
    connected, _ = await ws.connect()
    assert connected  # accepted, then closed with an application code the client can show
    return ws, await ws.receive_output(timeout=3)


async def _is_signed_in(session_key: str) -> bool:
    ws, first = await _open(session_key)
    if first == {"type": "websocket.close", "code": 4401}:
        return False
    assert first["type"] == "websocket.send" and '"hello"' in first["text"], first
    await ws.disconnect()
    return True


async def test_a_live_session_opens_a_socket(people):
    key = await database_sync_to_async(_sign_in)(people["alice"])
    assert await _is_signed_in(key)


async def test_a_tampered_session_cookie_or_session_row_is_refused(people):
    key = await database_sync_to_async(_sign_in)(people["alice"])
    tampered_key = key[:-1] + ("a" if key[-1] != "a" else "b")
    assert not await _is_signed_in(tampered_key)

    def tamper_row():
        # The stored data is signed with SECRET_KEY: an edited row no longer decodes.
        row = Session.objects.get(session_key=key)
        Session.objects.filter(session_key=key).update(session_data=row.session_data[:-3] + "xyz")

    await database_sync_to_async(tamper_row)()
    assert not await _is_signed_in(key)


async def test_an_expired_session_is_refused(people):
    key = await database_sync_to_async(_sign_in)(people["bob"])
    assert await _is_signed_in(key)
    expired = clock.now() - timedelta(seconds=1)
    await database_sync_to_async(
        lambda: Session.objects.filter(session_key=key).update(expire_date=expired))()
    assert not await _is_signed_in(key)


async def test_a_session_opened_before_a_password_change_is_refused_and_ended(people):
    alice = people["alice"]
    key = await database_sync_to_async(_sign_in)(alice)
    assert await _is_signed_in(key)

    def change_password():
        alice.set_password("another long passphrase 2")
        alice.save()

    await database_sync_to_async(change_password)()
    assert not await _is_signed_in(key)
    # As Django does for a request: the session whose hash no longer matches is flushed.
    assert not await database_sync_to_async(Session.objects.filter(session_key=key).exists)()
