"""Short-lived credentials for the media servers: Janus signed tokens and TURN REST credentials.

**Janus signed tokens** (Janus 1.1, ``token_auth`` with ``token_auth_secret``; checked by Janus's
``auth.c``): ``<expiry>,<realm>[,<descriptor>…]:<signature>``, ``expiry`` a Unix time in seconds,
``signature`` the standard base64 of HMAC-SHA1(secret, the text before the colon). Two are issued
together:

- the **session token**, realm ``janus``, descriptors the plugin packages it may attach to
  (``janus.plugin.videoroom``): sent in every Janus request (``"token"``);
- the **room token**, realm the plugin's package, descriptor ``room=<room id>``: sent in the
  VideoRoom's ``join`` body; a room created with ``signed_tokens`` admits only a bearer of a token
  naming it exactly (checked against Janus 1.1.2: another room's, an expired or a re-signed token
  is refused with error 433).

**TURN REST credential** (coturn's ``use-auth-secret`` / ``static-auth-secret``, the
draft-uberti-behave-turn-rest scheme): username ``<expiry>:<user>``, credential the standard base64
of HMAC-SHA1(secret, username).

HMAC-SHA1 is what both servers verify; it is used here as a MAC with a secret of 32 random bytes,
where SHA-1's collision weakness does not apply. Pure, no Django.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

CORE_REALM = "janus"
_FIELD = re.compile(r"^[A-Za-z0-9_.=\-]{1,80}$")


def _mac(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def janus_token(secret: str, *, expires: int, realm: str, descriptors: list[str]) -> str:
    """A signed token for ``realm`` valid until ``expires`` (Unix seconds). Commas and colons
    separate the fields, so every field is ``[A-Za-z0-9_.=-]``; ``ValueError`` otherwise."""
    if not secret:
        raise ValueError("a token secret is required")
    for part in [realm, *descriptors]:
        if not _FIELD.match(part):
            raise ValueError(f"not a token field: {part!r}")
    if not isinstance(expires, int) or isinstance(expires, bool) or expires <= 0:
        raise ValueError("expires is a positive Unix time")
    data = ",".join([str(expires), realm, *descriptors])
    return f"{data}:{_mac(secret, data)}"


def session_token(secret: str, *, expires: int, plugin: str) -> str:
    return janus_token(secret, expires=expires, realm=CORE_REALM, descriptors=[plugin])


def room_token(secret: str, *, expires: int, plugin: str, room: str) -> str:
    return janus_token(secret, expires=expires, realm=plugin, descriptors=[f"room={room}"])


def check_janus_token(secret: str, token: str, *, now: int) -> tuple[int, str, list[str]]:
    """``(expires, realm, descriptors)`` of a token this secret signed that has not expired, else
    ``ValueError``. The platform's own reading (tests, support); Janus checks its own."""
    data, sep, signature = token.partition(":")
    if not sep or not hmac.compare_digest(signature.encode(), _mac(secret, data).encode()):
        raise ValueError("bad signature")
    fields = data.split(",")
    if len(fields) < 2 or not fields[0].isdigit():
        raise ValueError("not a Janus token")
    expires = int(fields[0])
    if now > expires:
        raise ValueError("expired")
    return expires, fields[1], fields[2:]


def feed_id(secret: str, *, room: str, user: int) -> str:
    """The sender id a user with a publishing grant joins ``room`` with: ``u<user>-<16 hex>``, the
    hex an HMAC-SHA256 of the room and the user under the token secret. A sender whose id does not
    verify was not granted publishing by the platform (``check_feed_id``)."""
    mac = hmac.new(secret.encode(), f"feed|{room}|{user}".encode(), hashlib.sha256).hexdigest()[:16]
    return f"u{user}-{mac}"


def check_feed_id(secret: str, *, room: str, feed: str) -> bool:
    head, sep, _ = str(feed).partition("-")
    if not sep or not head.startswith("u") or not head[1:].isdigit():
        return False
    return hmac.compare_digest(feed_id(secret, room=room, user=int(head[1:])), str(feed))


def turn_credential(secret: str, *, expires: int, user: str) -> tuple[str, str]:
    """``(username, credential)`` for coturn's shared-secret authentication, valid until
    ``expires`` (Unix seconds)."""
    if not secret:
        raise ValueError("a TURN secret is required")
    if ":" in user:
        raise ValueError("the TURN user name has no colon")
    username = f"{expires}:{user}"
    return username, _mac(secret, username)
