"""One WebSocket: the ASGI app, the connection's state, and its memberships in rooms.

Thin by design: authenticate, check size and rate, parse, dispatch through an explicit table, reply
exactly once. Room state changes happen in the room kinds' actions; pushes arrive from the hub.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

from django.conf import settings

from common import clock, metrics, ratelimit
from common.canonical import format_time
from common.errors import ErrorCode, PlatformError, signing_unavailable
from crypto.signing import SigningUnavailable

from . import frames
from .commands import dispatch, replay_missing
from .hub import Hub, get_hub
from .member import Member
from .transport import make_sender

log = logging.getLogger(__name__)


#: The subprotocol a client may offer to say it speaks this protocol; the server then selects it.
SUBPROTOCOL = "kaibiao.v1"
#: A socket ticket travels as the subprotocol ``kaibiao.token.<ticket>`` (or ``?token=<ticket>``).
TOKEN_SUBPROTOCOL = "kaibiao.token."
_TOKEN_AUTH: list = []


def register_socket_token_auth(fn) -> None:
    """``fn(ticket, ip)`` → the user a one-time socket ticket signs in, or None (sync, ORM; it uses
    the ticket up). Registered by the app that issues tickets: realtime knows no accounts."""
    _TOKEN_AUTH[:] = [fn]


def offered_token(scope) -> str | None:
    """The socket ticket a handshake offers, from its subprotocols or its query, else None."""
    for proto in scope.get("subprotocols") or ():
        if proto.startswith(TOKEN_SUBPROTOCOL):
            return proto[len(TOKEN_SUBPROTOCOL):]
    from urllib.parse import parse_qs

    found = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
    return found[0] if found else None


def _accept(scope) -> dict:
    message = {"type": "websocket.accept"}
    if SUBPROTOCOL in (scope.get("subprotocols") or ()):
        message["subprotocol"] = SUBPROTOCOL  # never the ticket's: it is not echoed
    return message


class Connection:
    def __init__(self, scope, send):
        self.scope = scope
        self.user = scope.get("user")
        self.user_id = getattr(self.user, "pk", None)
        self.id = secrets.token_hex(12)
        self.raw_send = send
        self.sender = None
        self.hub: Hub | None = None
        self.rooms: dict[str, Member] = {}
        self.last_recv = time.monotonic()
        self.tasks: set[asyncio.Task] = set()
        self.closed = False
        self.actor = None
        self.present = False  # has presence rows: closing deletes every one, of any room

    # --- output ------------------------------------------------------------------------------
    def send_text(self, text: str) -> None:
        if self.sender is not None and not self.closed:
            self.sender.send_text(text)

    def send_frame(self, frame: dict) -> None:
        self.send_text(frames.dumps(frame))

    def close(self, code: int) -> None:
        if not self.closed and self.sender is not None:
            self.closed = True
            self.sender.close(code)

    def on_overflow(self) -> None:
        """The client cannot keep up: say so, then close; it resumes from its positions."""
        if self.closed:
            return
        log.info("connection %s of user %s overflowed its send buffer", self.id, self.user_id)
        metrics.RESYNCS.labels("slow_consumer").inc()
        self.send_frame(frames.resync(None, "slow_consumer"))
        self.close(4409)

    def spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    # --- lifecycle ---------------------------------------------------------------------------
    async def run(self, receive) -> None:
        message = await receive()
        if message["type"] != "websocket.connect":
            return
        if self.user is None or not self.user.is_authenticated:
            # Accept then close with an application code the client can show (4401 = sign in).
            await self.raw_send(_accept(self.scope))
            await self.raw_send({"type": "websocket.close", "code": 4401})
            return
        await self.raw_send(_accept(self.scope))
        self.sender = make_sender(self.raw_send, limit_bytes=settings.RT_MAX_BACKLOG_BYTES,
                                  on_overflow=self.on_overflow)
        self.hub = await get_hub()
        self.hub.add_conn(self)
        self.send_frame({"v": frames.PROTOCOL_VERSION, "hello": {
            "server_time": format_time(clock.now()), "server_ms": int(time.time() * 1000),
            "user": self.user.get_username(), "role": self.user.role, "conn": self.id,
            "heartbeat_seconds": settings.RT_HEARTBEAT_SECONDS,
            "idle_timeout_seconds": settings.RT_CLIENT_IDLE_SECONDS}})
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.receive":
                    self.last_recv = time.monotonic()
                    await self.on_frame(message.get("text"), message.get("bytes"))
                elif message["type"] == "websocket.disconnect":
                    break
        finally:
            await self.cleanup()

    async def cleanup(self) -> None:
        from .db import run_db
        from .presence import do_leave

        self.closed = True
        for task in list(self.tasks):
            task.cancel()
        keys = list(self.rooms)
        for member in list(self.rooms.values()):
            self.drop_member(member)
        if self.hub is not None:
            self.hub.remove_conn(self)
            if self.present:
                # Batched with the other sockets closing now (one transaction for a reconnect
                # storm's thousands of closes); stale rows would expire on their own anyway.
                self.hub.leave_presence(self.id, keys, closed=True)
        elif keys:
            try:
                await run_db(do_leave, conn_id=self.id, room_keys=keys)
            except Exception:  # noqa: BLE001 - stale rows expire on their own
                log.exception("presence clean-up of %s", self.id)

    def drop_member(self, member: Member) -> None:
        if self.rooms.get(member.key) is member:
            del self.rooms[member.key]
        if self.hub is not None:
            self.hub.leave(member.key, member)

    # --- input -------------------------------------------------------------------------------
    async def on_frame(self, text: str | None, data: bytes | None) -> None:
        # One budget per user, whatever the number of sockets or workers (Redis when REDIS_URL is
        # set): five sockets of one bidder share it.
        wait = await ratelimit.take_async(f"rt:user:{self.user_id}", rate=settings.RT_RATE_PER_SECOND,
                                          burst=settings.RT_RATE_BURST)
        if wait:
            error = PlatformError(ErrorCode.RATE_LIMITED, "too many frames",
                                  details={"retry_after_ms": int(wait * 1000) + 1})
            self.send_frame(frames.error_reply(frames.command_id_of(text), error))
            return
        try:
            command = frames.parse_command(text)
        except PlatformError as error:
            self.send_frame(frames.error_reply(frames.command_id_of(text), error))
            return
        try:
            payload = await dispatch(self, command)
        except PlatformError as error:
            self.send_frame(frames.error_reply(command.id, error))
            return
        except SigningUnavailable as exc:  # the command's transaction rolled back: send it again
            log.warning("command %s: the platform cannot sign: %s", command.cmd, exc)
            self.send_frame(frames.error_reply(command.id, signing_unavailable()))
            return
        except Exception:  # noqa: BLE001 - one reply, always; the trace goes to the log
            log.exception("command %s failed", command.cmd)
            self.send_frame(frames.error_reply(command.id, PlatformError(ErrorCode.INTERNAL)))
            return
        if payload is not None:
            self.send_frame(frames.ok_reply(command.id, payload))

    async def catch_up(self, member: Member) -> None:
        """Fill a hole in a member's streams from the database, then flush what was buffered."""
        try:
            await replay_missing(self, member)
        except Exception:  # noqa: BLE001
            log.exception("catch-up of %s in %s", self.id, member.key)
            member.resync("catch_up_failed")


class SocketApp:
    """The ASGI application of ``/ws/v1/`` (behind the Origin check and the session middleware)."""

    async def __call__(self, scope, receive, send):
        await Connection(scope, send).run(receive)


def _user_of_session(session_key: str | None):
    """The signed-in user of a session, verified as Django's ``auth.get_user`` verifies it for a
    request (backend allowed, session hash, ``SECRET_KEY_FALLBACKS``), else an anonymous user."""
    from importlib import import_module
    from types import SimpleNamespace

    from django.contrib import auth
    from django.contrib.auth.models import AnonymousUser

    if not session_key:
        return AnonymousUser(), None
    session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(SimpleNamespace(session=session))
    return user, session


class SessionAuthMiddleware:
    """Session authentication of the WebSocket handshake on the realtime ORM threads.

    Channels' ``AuthMiddlewareStack`` loads the session and the user through
    ``database_sync_to_async``: one thread for the whole process, which with ``CONN_MAX_AGE = 0``
    opens a new database connection for every handshake (about 15 ms on PostgreSQL here), so a
    reconnect storm of 3,000 sockets queues for 45 s and Daphne drops the handshakes still waiting
    after its handshake timeout. This middleware does the same check (Django's ``auth.get_user``) through
    ``realtime.db.run_db``: with ``RT_DB_THREADS`` > 0, a few threads that keep their connections.
    It sets ``scope["user"]``, ``scope["session"]`` and ``scope["cookies"]`` as Channels' stack does.
    Use: ``origin_validator(SessionAuthMiddleware(URLRouter(websocket_urlpatterns)))``.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") != "websocket":
            return await self.app(scope, receive, send)
        from django.http.cookie import parse_cookie

        from .db import run_db

        ip = (scope.get("client") or ("",))[0] or ""
        ticket = offered_token(scope)
        if ticket is not None:
            # A ticket signs the socket in, and only the ticket: the cookies are not read, so a
            # handshake without an Origin (a program, not a page) cannot ride on a session.
            cookies, session = {}, None
            user = await run_db(_TOKEN_AUTH[0], ticket, ip) if _TOKEN_AUTH else None
        else:
            header = b"; ".join(v for k, v in scope.get("headers", ()) if k.lower() == b"cookie")
            cookies = parse_cookie(header.decode("latin-1"))
            session_key = cookies.get(settings.SESSION_COOKIE_NAME)
            user, session = await run_db(_user_of_session, session_key) if session_key else (None, None)
        if user is None or not user.is_authenticated:
            # Anonymous handshakes cost a socket (and a session lookup) each: a budget per address,
            # shared by the workers; over it the handshake is refused (HTTP 403).
            wait = await ratelimit.take_async(
                f"rt:anon:{ip}", rate=settings.RT_ANON_HANDSHAKES_PER_MINUTE / 60,
                burst=settings.RT_ANON_HANDSHAKE_BURST)
            if wait:
                from channels.security.websocket import WebsocketDenier

                log.info("anonymous handshakes from %s over budget", ip)
                return await WebsocketDenier()(scope, receive, send)
            if user is None:
                from django.contrib.auth.models import AnonymousUser

                user = AnonymousUser()
        scope = dict(scope, cookies=cookies, user=user, session=session)
        return await self.app(scope, receive, send)
