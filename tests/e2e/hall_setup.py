"""Set-up of the hall presence browser test (``test_hall_presence.py``), run inside ``manage.py
shell`` on the demo data (the ORM does not work under Playwright's sync API): a lot opening in an
hour with the bids of bidder4 and bidder5, sealed and uploaded through the API as the command-line
tool does, and a session cookie for them and the host. Prints one JSON line."""

from __future__ import annotations

import json
from datetime import timedelta

BIDS_FEN = {"bidder4": 1_200_000_00, "bidder5": 1_180_000_00}


def build_hall() -> None:
    from accounts.models import User
    from bidding.models import Lot, Project
    from common import clock
    from evaluation.testing import session_cookie
    from tests.bidding.conftest import certify, seal, token_client, upload
    from tests.bidding.test_opening_support import bid_package

    now = clock.now()
    project = Project.objects.get(code="NJSZ-2026-0188")
    n = Lot.objects.filter(project=project, code__startswith="HP").count() + 1
    lot = Lot.objects.create(project=project, code=f"HP{n}", title="主持人在线状态演示标段",
                             bid_deadline=now + timedelta(hours=1), signin_opens_at=now,
                             status="published", published_at=now)
    host = User.objects.get(username="host")
    for username, fen in BIDS_FEN.items():
        user = User.objects.get(username=username)
        key, _ = certify(user, host, now=now)
        envelope = seal(lot, user.organisation, key, bid_package(lot, user.organisation, fen))
        res = upload(token_client(user), lot.pk, envelope)
        assert res.status_code == 201, res.content
    users = User.objects.filter(username__in=["host", *BIDS_FEN]).select_related("organisation")
    print(json.dumps({"lot": lot.pk, "cookies": {u.username: session_cookie(u) for u in users},
                      "orgs": {u.username: [u.organisation.name, u.organisation.credit_code]
                               for u in users if u.username in BIDS_FEN}}, ensure_ascii=False))
