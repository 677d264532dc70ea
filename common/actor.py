"""Who did something and from where: the actor every audit entry, room command and workflow carries.

Shared vocabulary: the audit log records it, realtime builds it for a socket's commands, the apps
pass it down from their views. It lives here so none of them imports another for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    """Who did it and from where, captured once per request or socket."""

    user_id: int | None = None
    username: str = ""
    role: str = ""
    organisation_id: int | None = None
    organisation_name: str = ""
    ip: str = ""
    # The client's User-Agent as it sent it (at most ``MAX_USER_AGENT`` characters). Not part of
    # every audit entry's body (docs/audit.md fixes its fields): the actions whose "from where"
    # is evidence (a bid's upload, receipt and decryption) put it in their entry's data.
    user_agent: str = ""

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(username=name, role="system")

    @classmethod
    def of(cls, user, ip: str = "", user_agent: str = "") -> "Actor":
        user_agent = clean_user_agent(user_agent)
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(ip=ip or "", user_agent=user_agent)
        org = getattr(user, "organisation", None)
        return cls(user_id=user.pk, username=user.get_username(), role=getattr(user, "role", ""),
                   organisation_id=getattr(org, "pk", None),
                   organisation_name=getattr(org, "name", "") or "", ip=ip or "", user_agent=user_agent)

    @classmethod
    def from_request(cls, request) -> "Actor":
        return cls.of(getattr(request, "user", None), client_ip(request),
                      request.META.get("HTTP_USER_AGENT", "") if hasattr(request, "META") else "")


MAX_USER_AGENT = 256


def clean_user_agent(value) -> str:
    """The header as text, control characters dropped, cut to ``MAX_USER_AGENT`` characters: it is
    the client's own claim, kept as evidence, never parsed or trusted."""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    if not isinstance(value, str):
        return ""
    return "".join(ch for ch in value if ch.isprintable())[:MAX_USER_AGENT]


def scope_user_agent(scope) -> str:
    """The User-Agent of an ASGI connection (a WebSocket's handshake)."""
    for name, value in scope.get("headers") or ():
        if name.lower() == b"user-agent":
            return clean_user_agent(value)
    return ""


def client_ip(request) -> str:
    # Behind the proxy the deployment uses, REMOTE_ADDR is rewritten by it; django-axes' ipware
    # configuration (PROXY_COUNT) governs the same question for lockouts.
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or request.META.get("REMOTE_ADDR", "") or ""
