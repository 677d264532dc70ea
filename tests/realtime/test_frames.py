"""The WebSocket frame shape and its errors, through a real consumer."""

import json

import pytest
from channels.testing import WebsocketCommunicator

from config.asgi import application
from realtime import frames


def test_parse_refuses_what_is_not_a_command():
    bad = [None, "", "{", "[]", '"x"', '{"cmd":"ping"}', '{"id":"","cmd":"ping"}', '{"id":"a"}',
           '{"id":"a","cmd":"ping","payload":[]}', '{"id":"' + "x" * 65 + '","cmd":"ping"}',
           '{"id":"a","cmd":"ping","pad":"' + "x" * frames.MAX_FRAME_BYTES + '"}']
    for text in bad:
        with pytest.raises(frames.BadRequest):
            frames.parse_command(text)


def test_a_failed_parse_still_echoes_the_id_when_it_can():
    assert frames.command_id_of('{"id":"c7","cmd":5}') == "c7"
    assert frames.command_id_of("{") is None


@pytest.mark.django_db(transaction=True)
async def test_commands_get_exactly_one_reply_in_the_documented_shape(people):
    from channels.db import database_sync_to_async
    from django.test import Client

    client = Client()
    await database_sync_to_async(client.force_login)(people["alice"])
    cookie = f"sessionid={client.cookies['sessionid'].value}".encode()
    ws = WebsocketCommunicator(application, "/ws/v1/",
                               headers=[(b"origin", b"http://127.0.0.1:8000"), (b"cookie", cookie)])
    connected, _ = await ws.connect()
    assert connected
    hello = await ws.receive_json_from()
    assert hello["hello"]["role"] == "bidder"

    await ws.send_to(text_data=json.dumps({"id": "t1", "cmd": "time.sync", "payload": {"client_sent": 5}}))
    reply = await ws.receive_json_from()
    assert reply["id"] == "t1" and reply["ok"] is True and reply["payload"]["client_sent"] == 5
    assert reply["payload"]["server_time"].endswith("Z")

    await ws.send_to(text_data="{not json")
    reply = await ws.receive_json_from()
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    assert reply["error"]["temporary"] is False

    await ws.send_to(text_data=json.dumps({"id": "t2", "cmd": "websocket.disconnect"}))
    reply = await ws.receive_json_from()
    assert reply["id"] == "t2" and reply["error"]["code"] == "unknown_command"
    assert await ws.receive_nothing()
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_socket_is_closed_with_4401():
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=[(b"origin", b"http://127.0.0.1:8000")])
    connected, _ = await ws.connect()
    assert connected
    out = await ws.receive_output()
    assert out == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_foreign_origin_is_refused():
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await ws.connect()
    assert not connected
