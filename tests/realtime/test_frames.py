"""The WebSocket frame shape and its errors, through a real consumer."""

import json

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from config.asgi import application
from realtime import frames


def test_parse_refuses_what_is_not_a_command():
    bad = [None, "", "{", "[]", '"x"', '{"v":1,"cmd":"ping"}', '{"v":1,"id":"","cmd":"ping"}',
           '{"v":1,"id":"a"}', '{"v":1,"id":"a","cmd":"ping","payload":[]}',
           '{"v":1,"id":"' + "x" * 65 + '","cmd":"ping"}',
           '{"v":1,"id":"a","cmd":"ping","pad":"' + "x" * frames.MAX_FRAME_BYTES + '"}']
    for text in bad:
        with pytest.raises(frames.BadRequest):
            frames.parse_command(text)


def test_a_frame_of_another_version_or_none_is_refused_unexecuted():
    for v in ("", '"v":2,', '"v":0,', '"v":"1",', '"v":1.0,', '"v":true,', '"v":null,', '"v":[1],'):
        with pytest.raises(frames.PlatformError) as err:
            frames.parse_command('{' + v + '"id":"c1","cmd":"ping"}')
        assert err.value.code == "unsupported_version" and err.value.details == {"supported": [1]}
    assert frames.parse_command('{"v":1,"id":"c1","cmd":"ping"}').cmd == "ping"


@pytest.mark.django_db(transaction=True)
async def test_a_versionless_or_v2_command_gets_unsupported_version_and_does_nothing(people, connect):
    from realtime.models import RoomEvent

    host = await connect(people["host"])
    assert (await host.join("demo:v"))["ok"]
    for frame in ({"id": "x1", "cmd": "demo.post", "room": "demo:v", "payload": {"text": "no v"}},
                  {"v": 2, "id": "x2", "cmd": "demo.post", "room": "demo:v", "payload": {"text": "v2"}},
                  {"v": 2, "id": "x3", "cmd": "room.leave", "room": "demo:v", "payload": {}}):
        await host.ws.send_to(text_data=json.dumps(frame))
        reply = await host.ws.receive_json_from()
        assert reply["id"] == frame["id"] and reply["ok"] is False, reply
        assert reply["error"]["code"] == "unsupported_version" and reply["error"]["temporary"] is False
    assert not await database_sync_to_async(RoomEvent.objects.filter(room__key="demo:v").exists)()
    posted = await host.command("demo.post", "demo:v", text="v1")  # still joined: the leave was refused
    assert posted["ok"]


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
                               headers=[(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"),
                                        (b"cookie", cookie)])
    connected, _ = await ws.connect()
    assert connected
    hello = await ws.receive_json_from()
    assert hello["hello"]["role"] == "bidder"

    await ws.send_to(text_data=json.dumps({"v": 1, "id": "t1", "cmd": "time.sync", "payload": {"client_sent": 5}}))
    reply = await ws.receive_json_from()
    assert reply["id"] == "t1" and reply["ok"] is True and reply["payload"]["client_sent"] == 5
    assert reply["payload"]["server_time"].endswith("Z")

    await ws.send_to(text_data="{not json")
    reply = await ws.receive_json_from()
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    assert reply["error"]["temporary"] is False

    await ws.send_to(text_data=json.dumps({"v": 1, "id": "t2", "cmd": "websocket.disconnect"}))
    reply = await ws.receive_json_from()
    assert reply["id"] == "t2" and reply["error"]["code"] == "unknown_command"
    assert await ws.receive_nothing()
    await ws.disconnect()


@pytest.mark.django_db(transaction=True)
async def test_an_anonymous_socket_is_closed_with_4401():
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=[(b"host", b"127.0.0.1:8000"),
                                                              (b"origin", b"http://127.0.0.1:8000")])
    connected, _ = await ws.connect()
    assert connected
    out = await ws.receive_output()
    assert out == {"type": "websocket.close", "code": 4401}


@pytest.mark.django_db(transaction=True)
async def test_a_foreign_origin_is_refused():
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=[(b"origin", b"https://evil.example")])
    connected, _ = await ws.connect()
    assert not connected


def test_an_origin_is_parsed_as_scheme_host_and_port():
    from realtime.origin import parse_origin

    assert parse_origin("https://KB.example.cn") == ("https", "kb.example.cn", 443)
    assert parse_origin("http://127.0.0.1:8000") == ("http", "127.0.0.1", 8000)
    assert parse_origin("http://[::1]:8000") == ("http", "::1", 8000)
    for text in ("null", "", "kb.example.cn", "ftp://kb.example.cn", "https://u@kb.example.cn",
                 "https://kb.example.cn/path", "https://kb.example.cn:99999", "https://:443", "*",
                 "https://.example.cn", "https://kb..example.cn"):
        assert parse_origin(text) is None, text


async def _handshake(origin: bytes | None, host: bytes | None = b"127.0.0.1:8000", scheme: str = "ws") -> bool:
    headers = [(b"host", host)] if host is not None else []
    headers += [(b"origin", origin)] if origin is not None else []
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=headers)
    ws.scope["scheme"] = scheme  # read by the application when the handshake starts
    connected, _ = await ws.connect()
    if connected:
        await ws.disconnect()
    return connected


@pytest.mark.django_db(transaction=True)
async def test_by_default_only_the_sockets_own_origin_is_allowed(settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = []
    assert await _handshake(b"http://127.0.0.1:8000")
    assert await _handshake(b"http://localhost:8000", host=b"localhost:8000")
    assert await _handshake(b"https://127.0.0.1:8000", scheme="wss")
    for origin, host, scheme in (
            (b"https://127.0.0.1:8001", b"127.0.0.1:8000", "ws"),   # another port, another scheme
            (b"http://127.0.0.1:8001", b"127.0.0.1:8000", "ws"),    # another port
            (b"http://localhost:1", b"127.0.0.1:8000", "ws"),       # another host and port
            (b"http://localhost:1", b"localhost:8000", "ws"),
            (b"http://127.0.0.1", b"127.0.0.1:8000", "ws"),         # port 80 is not 8000
            (b"https://127.0.0.1:8000", b"127.0.0.1:8000", "ws"),   # https page, plain socket
            (b"http://127.0.0.1:8000", b"127.0.0.1:8000", "wss"),
            (b"http://evil.example", b"evil.example", "ws"),        # a host Django does not serve
            (b"null", b"127.0.0.1:8000", "ws"),
            (None, b"127.0.0.1:8000", "ws"),
            (b"http://127.0.0.1:8000", None, "ws")):
        assert not await _handshake(origin, host=host, scheme=scheme), (origin, host, scheme)


@pytest.mark.django_db(transaction=True)
async def test_the_allow_list_compares_scheme_host_and_port(settings):
    settings.WEBSOCKET_ALLOWED_ORIGINS = ["https://kb.example.cn", "http://127.0.0.1:8000"]
    assert await _handshake(b"https://kb.example.cn", host=b"anything")
    assert await _handshake(b"https://kb.example.cn:443")
    assert await _handshake(b"http://127.0.0.1:8000")
    for origin in (b"https://kb.example.cn:8443", b"http://kb.example.cn", b"https://sub.kb.example.cn",
                   b"https://127.0.0.1:8000", b"http://127.0.0.1:8001", b"http://localhost:1",
                   b"http://localhost:8000", b"https://kb.example.cn.evil.example", b"null"):
        assert not await _handshake(origin), origin
