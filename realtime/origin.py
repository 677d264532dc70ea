"""Origin allow-list for WebSocket handshakes: browsers send Origin, and pages of other sites must
not open sockets with our users' cookies (cross-site WebSocket hijacking).

An origin is the triple (scheme, host, port) of RFC 6454, the port made explicit (80 for http, 443
for https); two origins are the same only when all three are equal — ``https://kb.example.cn:8443``
is not ``https://kb.example.cn``, and no pattern matches subdomains. The allow-list is
``WEBSOCKET_ALLOWED_ORIGINS`` (full origins such as ``https://kb.example.cn``; production requires
it, ``config.checks``); without it (the embedded defaults) the one allowed origin is the socket's
own: the scheme of the connection and the ``Host`` of the handshake, that host being one Django
serves (``ALLOWED_HOSTS``). A handshake without an acceptable Origin is refused (HTTP 403), except
one with no Origin at all that signs in with a socket ticket (a program; docs/protocol.md §1).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host

DEFAULT_PORTS = {"http": 80, "https": 443}


def parse_origin(text: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of a serialised origin (``scheme://host[:port]``, nothing else), or
    None for anything that is not one (``null``, a path, user info, another scheme)."""
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname or parts.username is not None \
            or parts.password is not None or parts.path not in ("", "/") or parts.query or parts.fragment:
        return None
    host = parts.hostname.lower()
    if ":" not in host and "" in host.split("."):
        return None  # ".example.cn" is a pattern of other validators, not a host
    return scheme, host, DEFAULT_PORTS[scheme] if port is None else port


def configured_origins() -> list[tuple[str, str, int]] | None:
    """The parsed ``WEBSOCKET_ALLOWED_ORIGINS`` (entries that are no origin are dropped: the deploy
    check names them), ``["*"]`` meaning any origin, or None when it is not set."""
    raw = list(settings.WEBSOCKET_ALLOWED_ORIGINS)
    if not raw:
        return None
    return [o for o in (parse_origin(entry) for entry in raw if entry != "*") if o is not None]


def own_origin(scope) -> tuple[str, str, int] | None:
    """The socket's own origin: the connection's scheme (``wss`` → https) and the handshake's
    ``Host``, when Django serves that host (``ALLOWED_HOSTS``)."""
    host = next((v.decode("latin-1") for k, v in scope.get("headers", ()) if k.lower() == b"host"), "")
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
    return parse_origin(f"{scheme}://{host}")


def origin_allowed(scope) -> bool:
    origins = [v for k, v in scope.get("headers", ()) if k.lower() == b"origin"]
    if not origins:
        # No Origin: not a page, a program. It may sign in with a socket ticket only (the session
        # middleware then reads no cookie), so no user's cookie can be ridden this way.
        from .connection import offered_token

        return offered_token(scope) is not None
    if len(origins) != 1:
        return False
    try:
        origin = parse_origin(origins[0].decode("ascii"))
    except UnicodeDecodeError:
        return False
    if origin is None:
        return False
    allowed = configured_origins()
    if allowed is None:
        return origin == own_origin(scope)
    return "*" in settings.WEBSOCKET_ALLOWED_ORIGINS or origin in allowed


class OriginValidator:
    """Passes a handshake on to ``app`` only when its Origin is allowed (read per handshake, so a
    changed setting applies at once); refuses it otherwise."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


def origin_validator(app):
    return OriginValidator(app)
