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

    @classmethod
    def system(cls, name: str = "system") -> "Actor":
        return cls(username=name, role="system")

    @classmethod
    def of(cls, user, ip: str = "") -> "Actor":
        if user is None or not getattr(user, "is_authenticated", False):
            return cls(ip=ip or "")
        org = getattr(user, "organisation", None)
        return cls(user_id=user.pk, username=user.get_username(), role=getattr(user, "role", ""),
                   organisation_id=getattr(org, "pk", None),
                   organisation_name=getattr(org, "name", "") or "", ip=ip or "")

    @classmethod
    def from_request(cls, request) -> "Actor":
        return cls.of(getattr(request, "user", None), client_ip(request))


def client_ip(request) -> str:
    # Behind the proxy the deployment uses, REMOTE_ADDR is rewritten by it; django-axes' ipware
    # configuration (PROXY_COUNT) governs the same question for lockouts.
    from axes.helpers import get_client_ip_address

    return get_client_ip_address(request) or request.META.get("REMOTE_ADDR", "") or ""
