"""Create hosts (one per hall in the many-halls bench), a supervisor and N bidders with sessions;
print their cookies as JSON: ``{"host", "hosts": [...], "supervisor", "bidders": [...]}``.
Usage: ``python -m bench.make_sessions N [HOSTS]``."""

import json
import sys

import django

django.setup()

from django.contrib.sessions.backends.db import SessionStore  # noqa: E402

from accounts.models import Organisation, User  # noqa: E402


def session_for(user) -> str:
    s = SessionStore()
    s["_auth_user_id"] = str(user.pk)
    s["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    s["_auth_user_hash"] = user.get_session_auth_hash()
    s.create()
    return s.session_key


def main(n: int, hosts: int = 1) -> None:
    out = {"bidders": [], "hosts": []}
    agency = Organisation.objects.create(name="代理", kind="agency")
    for i in range(max(1, hosts)):
        host = User.objects.create(username=f"bench-host-{i}" if i else "bench-host", role="host",
                                   organisation=agency)
        out["hosts"].append(session_for(host))
    out["host"] = out["hosts"][0]
    sup = User.objects.create(username="bench-sup", role="supervisor")
    out["supervisor"] = session_for(sup)
    for i in range(n):
        org = Organisation.objects.create(name=f"投标人{i}", kind="bidder")
        user = User.objects.create(username=f"bench-bidder-{i}", role="bidder", organisation=org)
        out["bidders"].append(session_for(user))
    print(json.dumps(out))


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 1)
