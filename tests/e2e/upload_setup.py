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


def build_custodian_upload(tag: str, count: int = 4, threshold: int = 3) -> None:
    """``build_upload``, and the lot requires backup decryption: ``count`` custodians (venue staff
    of their own) each make a key pair and register its public key, and the host names them with
    ``threshold``. Prints the custodians' private scalars too (the test plays each custodian's own
    machine: nothing of them is on the server)."""
    import io
    from contextlib import redirect_stdout

    from accounts.models import User
    from bidding import escrow
    from bidding.models import Lot
    from common import clock
    from common.actor import Actor
    from crypto import keys

    out = io.StringIO()
    with redirect_stdout(out):
        build_upload(tag)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    now = clock.now()
    lot = Lot.objects.get(pk=result["lot"])
    lot.escrow_required = True
    lot.save(update_fields=["escrow_required"])
    host = User.objects.get(username="host")
    users, scalars = [], []
    for i in range(1, count + 1):
        user = User.objects.create(username=f"custodian-{tag}-{lot.pk}-{i}", role="venue_staff",
                                   display_name=f"备用解密保管人{i}")
        key = keys.generate_bidder_key()
        escrow.register_custodian(user, Actor.of(user), public_key=keys.public_key_to_bytes(key.public_key()),
                                  now=now)
        users.append(user.pk)
        scalars.append(keys.private_key_to_scalar(key).hex())
    escrow.provision_escrow(host, Actor.of(host), lot.pk, custodian_user_ids=users, threshold=threshold, now=now)
    print(json.dumps({**result, "custodians": scalars, "threshold": threshold}))


def build_gm_upload(tag: str) -> None:
    """``build_upload`` for a tender of the 国密 suite: the lot's ``cipher_suite`` is ``gm`` and the
    bidder's current certificate an SM2 one from the platform's SM2 CA. Prints the SM2 scalar and
    point (the test plays the bidder's sealbid key file: nothing of it is in the browser)."""
    from accounts.models import Organisation, User
    from bidding import certificates
    from bidding.models import Lot, Project
    from common import clock
    from common.actor import Actor
    from crypto import gm, sm2_x509
    from evaluation.testing import session_cookie
    from tests.conftest import make_code

    now = clock.now()
    project = Project.objects.get(code="NJSZ-2026-0188")
    n = Lot.objects.filter(project=project, code__startswith="GM").count() + 1
    lot = Lot.objects.create(project=project, code=f"GM{n}", title="国密浏览器加密标段", cipher_suite="gm",
                             bid_deadline=now + timedelta(hours=2), signin_opens_at=now,
                             status="published", published_at=now, max_bid_bytes=4 * 2**30)
    seq = Organisation.objects.count()
    org = Organisation.objects.create(name=f"国密测试投标人{tag}{n}", kind="bidder",
                                      credit_code=make_code(f"9132GM{seq:04d}"))
    user = User.objects.create(username=f"gm-{tag}-{n}", role="bidder", organisation=org)
    host = User.objects.get(username="host")
    key = gm.generate_sm2_key()
    csr = sm2_x509.make_csr(key, organisation=org.name, credit_code=org.credit_code).decode()
    cert = certificates.request_certificate(user, Actor.of(user), csr_pem=csr, now=now)
    certificates.decide_certificate(host, Actor.of(host), cert.pk, approve=True, now=now)
    print(json.dumps({"lot": lot.pk, "cookie": session_cookie(user), "credit_code": org.credit_code,
                      "scalar": key.scalar.hex(), "point": key.public.point.hex(), "key_id": key.key_id}))


def build_gm_upload_p256(tag: str) -> None:
    """``build_upload`` (a P-256 certificate), on a lot whose suite is ``gm``: the certificate of the
    wrong suite."""
    import io
    from contextlib import redirect_stdout

    from bidding.models import Lot

    out = io.StringIO()
    with redirect_stdout(out):
        build_upload(tag)
    result = json.loads(out.getvalue().strip().splitlines()[-1])
    Lot.objects.filter(pk=result["lot"]).update(cipher_suite="gm")
    print(json.dumps(result))
