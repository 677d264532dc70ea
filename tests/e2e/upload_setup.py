"""Set-up of the browser upload tests and the upload benchmark, run inside ``manage.py shell`` on
the demo data (the ORM does not work under Playwright's sync API): a bidder organisation of its own
with a current certificate, a published lot, the bidder's key file (for the page to import) and a
session cookie. Prints one JSON line."""

from __future__ import annotations

import json
from datetime import timedelta

KEY_PASSWORD = "upload test key"


def build_upload(tag: str) -> None:
    from accounts.models import Organisation, User
    from bidding.models import Lot, Project
    from common import clock
    from crypto import keys
    from evaluation.testing import session_cookie
    from tests.bidding.conftest import certify
    from tests.conftest import make_code

    now = clock.now()
    project = Project.objects.get(code="NJSZ-2026-0188")
    n = Lot.objects.filter(project=project, code__startswith="UP").count() + 1
    lot = Lot.objects.create(project=project, code=f"UP{n}", title="浏览器大文件上传标段",
                             bid_deadline=now + timedelta(hours=2), signin_opens_at=now,
                             status="published", published_at=now, max_bid_bytes=4 * 2**30)
    seq = Organisation.objects.count()
    org = Organisation.objects.create(name=f"上传测试投标人{tag}{n}", kind="bidder",
                                      credit_code=make_code(f"9132UP{seq:04d}"))
    user = User.objects.create(username=f"upload-{tag}-{n}", role="bidder", organisation=org)
    key, _ = certify(user, User.objects.get(username="host"), now=now)
    key_file = keys.private_key_to_file(key, KEY_PASSWORD.encode(), iterations=100_000)
    print(json.dumps({"lot": lot.pk, "cookie": session_cookie(user), "credit_code": org.credit_code,
                      "key_file": keys.b64encode(key_file),
                      "scalar": key.private_numbers().private_value.to_bytes(32, "big").hex()}))
